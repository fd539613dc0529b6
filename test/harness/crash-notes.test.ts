// A test file whose top-level start fails (a rejected `await`) ends with no plan and no
// assertion, and its error goes to stderr, which CI's log may not show. Each test process's
// --import (scripts/tap-tsx/import.mjs) notes the error, and .ci/summarize.mjs prints the note
// under the file's "crashed or incomplete" line. Both halves run here as CI runs them.
import t from 'tap';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const importer = join(root, 'scripts/tap-tsx/import.mjs');
const summarize = join(root, '.ci/summarize.mjs');

t.test('a rejected top-level start is noted, and the summary shows it under the crashed file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'omp-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'test'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n'); // as the project's
  // What tap's process runs: a test file that awaits a start which fails after a tick.
  writeFileSync(join(dir, 'test/start.test.ts'), "await new Promise((r) => setTimeout(r, 20));\nawait Promise.reject(new Error('backend did not start: bind 127.0.0.1:20001: EADDRINUSE'));\n");
  const run = spawnSync(process.execPath, ['--import', importer, 'test/start.test.ts'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  t.not(run.status, 0, 'the file failed');
  // tap's saved result for such a file: a version line, no plan, no assertion.
  mkdirSync(join(dir, '.tap/test-results/test'), { recursive: true });
  writeFileSync(join(dir, '.tap/test-results/test/start.test.ts.tap'), 'TAP version 14\n');
  writeFileSync(join(dir, '.tap/test-results/test/fine.test.ts.tap'), 'TAP version 14\nok 1 - fine\n1..1\n');
  const out = spawnSync(process.execPath, [summarize, join(dir, '.tap/test-results'), '1'], { encoding: 'utf8', timeout: 30_000 });
  t.equal(out.status, 0, out.stderr);
  const lines = out.stdout.trim().split('\n');
  t.match(lines[0], /^crashed or incomplete: .*test\/start\.test\.ts\.tap$/);
  t.match(lines[1], /^ {2}unhandledRejection: Error: backend did not start: bind 127\.0\.0\.1:20001: EADDRINUSE$/, 'the error, under its file');
  t.match(lines[2], /start\.test\.ts:2/, 'and where it was thrown');
  t.equal(lines.at(-1), '1 passed, 1 failed');
});

t.test('a file that ran its tests has no note printed, even with a caught error noted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'omp-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, '.tap/test-results/test'), { recursive: true });
  mkdirSync(join(dir, '.tap/crash-notes/test'), { recursive: true });
  writeFileSync(join(dir, '.tap/test-results/test/a.test.ts.tap'), 'TAP version 14\nnot ok 1 - caught\n1..1\n');
  writeFileSync(join(dir, '.tap/crash-notes/test/a.test.ts.txt'), 'uncaughtException: Error: caught by tap\n');
  const out = spawnSync(process.execPath, [summarize, join(dir, '.tap/test-results'), '1'], { encoding: 'utf8', timeout: 30_000 });
  t.equal(out.stdout, '0 passed, 1 failed\n');
});
