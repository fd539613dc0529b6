// A malformed app-password state file (cut short by a full disk, edited by hand), with the
// real store and the real CLI. At start-up the proxy and the CLI stop with a message that
// names the file and what is wrong (a JSON parser's "Unterminated string in JSON at position
// 39" named no file; a `null` entry was a TypeError; an entry of the wrong shape was loaded
// and broke the portal's page and the CLI's list later). While running, a file gone bad keeps
// the last good copy for logins, and the CLI refuses to change it, with exit code 78.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppPasswordFile } from '../../src/state/app-password-file.js';
import { appPasswordCommand } from '../../src/commands/app-password.js';
import { createLogger } from '../../src/observability/logger.js';
import { Writable } from 'node:stream';

const dir = mkdtempSync(join(tmpdir(), 'omp-app-pw-malformed-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'app-passwords.json');
const good = { id: 'a1', user: 'alice@example.test', label: 'Phone', createdAt: 1, hash: 'scrypt$4096$8$1$AA==$AA==' };

const BAD: ReadonlyArray<readonly [string, string]> = [
  ['cut short', JSON.stringify({ version: 1, passwords: [good] }).slice(0, 40)],
  ['empty', ''],
  ['null', 'null'],
  ['a null entry', JSON.stringify({ version: 1, passwords: [null] })],
  ['an entry without an id', JSON.stringify({ version: 1, passwords: [{ ...good, id: undefined }] })],
  ['a label that is not text', JSON.stringify({ version: 1, passwords: [{ ...good, label: 5 }] })],
  ['a hash that is not text', JSON.stringify({ version: 1, passwords: [{ ...good, hash: 7 }] })],
];

async function cli(...argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await appPasswordCommand(['--file', file, ...argv], { env: {}, out: () => undefined, err: (s) => { err += s; } });
  return { code, err };
}

t.test('at start-up: an error that names the file; the CLI exits 78 with it', async (t) => {
  for (const [what, text] of BAD) {
    writeFileSync(file, text, { mode: 0o600 });
    const err = await AppPasswordFile.open(file).then(() => undefined, (e: Error & { code?: string }) => e);
    t.equal(err?.code, 'ERR_APP_PASSWORDS_FILE', `${what}: refused as a bad state file`);
    t.ok(err?.message.startsWith(`${file}: `), `${what}: the message names the file (${err?.message.slice(0, 120)})`);
    const r = await cli('list', 'alice@example.test').catch((e: Error) => ({ code: -1, err: `threw ${e.name}: ${e.message}` }));
    t.equal(r.code, 78, `${what}: the CLI exits 78 (EX_CONFIG)`);
    t.match(r.err, file, `${what}: the CLI says which file`);
  }
});

t.test('while running: logins keep the last good copy; the CLI refuses to change a bad file', async (t) => {
  writeFileSync(file, JSON.stringify({ version: 1, passwords: [good] }), { mode: 0o600 });
  const store = await AppPasswordFile.open(file);
  t.teardown(() => store.close());
  for (const [what, text] of BAD) {
    writeFileSync(file, text, { mode: 0o600 });
    t.same((await store.list('alice@example.test')).map((r) => r.id), ['a1'], `${what}: the last good copy`);
    const r = await cli('create', 'alice@example.test', 'Laptop').catch((e: Error) => ({ code: -1, err: `threw ${e.name}: ${e.message}` }));
    t.equal(r.code, 78, `${what}: the CLI's create exits 78`);
    t.match(r.err, file, `${what}: and says which file`);
  }
});

t.test('while running: one state-file-bad error per change of the bad file, naming the file, no file bytes', async (t) => {
  writeFileSync(file, JSON.stringify({ version: 1, passwords: [good] }), { mode: 0o600 });
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger('info', new Writable({ write: (c: Buffer, _e, cb) => { lines.push(JSON.parse(c.toString('utf8')) as Record<string, unknown>); cb(); } }));
  const store = await AppPasswordFile.open(file, log);
  t.teardown(() => store.close());
  const bad = () => lines.filter((l) => l.event === 'state-file-bad');
  for (const [i, [what, text]] of BAD.entries()) {
    writeFileSync(file, text, { mode: 0o600 });
    for (let n = 0; n < 3; n++) t.same((await store.list('alice@example.test')).map((r) => r.id), ['a1'], `${what}: the last good copy`);
    t.equal(bad().length, i + 1, `${what}: logged once for this change`);
    t.match(bad().at(-1), { level: 50, file, inForce: 'last good copy', problem: String }, `${what}: an error naming the file`);
  }
  t.notOk(JSON.stringify(lines).includes(good.hash), 'no hash from the file in the log');
  writeFileSync(file, JSON.stringify({ version: 1, passwords: [good] }), { mode: 0o600 });
  await store.list('alice@example.test');
  writeFileSync(file, 'null', { mode: 0o600 });
  await store.list('alice@example.test');
  t.equal(bad().length, BAD.length + 1, 'fixed, then bad again: logged again');
});
