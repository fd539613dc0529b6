// The test backend and the install script must work whether or not the machine has a
// Postfix of its own configured (/etc/postfix/main.cf), and must leave it alone: a fresh
// Debian with Postfix installed as "No configuration" has no main.cf at all, and an
// operator's machine has one we must never edit. Both states are checked against a
// snapshot taken before and after, so the test fails if either step reads or writes it.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { startBackend } from './backend.js';

const run = promisify(execFile);
const DEFAULT_MAIN_CF = '/etc/postfix/main.cf';
const REPO = join(import.meta.dirname, '..', '..');

async function snapshot(): Promise<string> {
  const st = await stat(DEFAULT_MAIN_CF).catch(() => undefined);
  if (!st) return 'absent';
  const sha = createHash('sha256').update(await readFile(DEFAULT_MAIN_CF)).digest('hex');
  return `present mtime=${st.mtimeMs} sha256=${sha}`;
}

t.test('the install script leaves the system main.cf as it found it', async (t) => {
  const before = await snapshot();
  await run('bash', [join(REPO, 'scripts', 'install-backend.sh')], { timeout: 600_000 });
  t.equal(await snapshot(), before, `main.cf ${before === 'absent' ? 'still absent' : 'unchanged'}`);
});

t.test('a backend starts, queues and stops without touching the system main.cf', async (t) => {
  const before = await snapshot();
  const backend = await startBackend();
  t.teardown(() => backend.stop());
  // The set-gid queue tool the load tests use must accept our unlisted config dir as root.
  const { stdout } = await run('postqueue', ['-c', join(backend.dir, 'postfix', 'etc'), '-p']);
  t.match(stdout, /Mail queue is empty/);
  await backend.stop();
  t.equal(await snapshot(), before, `main.cf ${before === 'absent' ? 'still absent' : 'unchanged'}`);
});
