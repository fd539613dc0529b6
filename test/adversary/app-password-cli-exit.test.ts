// Adversary: docs/operations.md gives the app-password CLI's exit codes: "0 done, 1 nothing to
// revoke, 64 usage, 75 the shared store did not answer (try again), 78 configuration error".
// A state file that cannot be used (--file naming a directory, or a file in a directory that
// does not exist) ends the CLI with exit 1 and a bare errno message: `revoke USER --all`, the
// off-boarding command, then says "nothing to revoke" when nothing was even read, and a
// script takes the user's app passwords as gone. Invalid JSON in the file is 78 already
// (the control below): an unusable file is the same class of problem.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliToExit } from '../harness/cli-process.js';

const dir = mkdtempSync(join(tmpdir(), 'adv-apw-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[]) => runCliToExit(['app-password', ...args], {});

t.test('control: a state file of invalid JSON is a configuration error (78)', async (t) => {
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{not json');
  const r = await cli(['--file', bad, 'revoke', 'alice@example.test', '--all']);
  t.equal(r.code, 78, r.out);
});

t.test('revoke --all with --file naming a directory: not exit 1 ("nothing to revoke")', async (t) => {
  const r = await cli(['--file', dir, 'revoke', 'alice@example.test', '--all']);
  t.not(r.code, 1, `exit ${r.code} reads as "nothing to revoke": ${r.out.trim()}`);
  t.equal(r.code, 78, 'a configuration error');
});

t.test('create with --file in a directory that does not exist: 78, not 1', async (t) => {
  const r = await cli(['--file', join(dir, 'missing', 'apw.json'), 'create', 'alice@example.test']);
  t.equal(r.code, 78, r.out.trim());
});

t.test('list with --file naming a directory: 78, not 1', async (t) => {
  const r = await cli(['--file', dir, 'list', 'alice@example.test']);
  t.equal(r.code, 78, r.out.trim());
});
