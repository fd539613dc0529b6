// CI smoke of `npm run bench`: the quick mode (a few iterations of everything) against the
// real backend, IdP and proxy process, so the bench keeps working. It asserts only that a
// table with every row came out; performance is a benchmark, never a timed test.
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const ROWS = [
  'Login p50, OAUTHBEARER, cached token',
  'Login p99, OAUTHBEARER, cached token',
  'Login p50, OAUTHBEARER, fresh token',
  'Login p99, OAUTHBEARER, fresh token',
  'Floor: login p50 through a bare Node forwarder',
  'Reference: login p50 through HAProxy',
  'Proxy CPU per login, 32 concurrent clients',
  'Logins per second, 32 concurrent clients',
  'Floor: CPU per login of a bare Node forwarder',
  'Reference: CPU per login of HAProxy',
  'FETCH 1:* BODY.PEEK[], plaintext',
  'Proxy CPU per MiB fetched, plaintext',
  'Floor: FETCH through a bare Node forwarder',
  'Floor: CPU per MiB fetched of a bare Node forwarder',
  'Reference: FETCH through HAProxy',
  'Reference: CPU per MiB fetched of HAProxy',
  'FETCH 1:* BODY.PEEK[], TLS to the client',
  'Proxy CPU per MiB fetched, TLS to the client',
  'SMTP submission, 1 KiB messages',
  'Proxy CPU per 1 KiB message submitted',
  'SMTP submission, 1 MiB messages',
  'Proxy CPU per 1 MiB message submitted',
  'Token validation, cached token',
  'Token validation, local JWT',
  'Proxy memory per idle session, plaintext',
  'Proxy memory per idle session, TLS to the client',
  'Idle sessions in one proxy process',
];

t.test('npm run bench -- --quick prints a table with every row', { timeout: 150_000 }, async (t) => {
  // The proxy runs from src/ (CI does not build dist/ before the tests).
  const child = spawn(process.execPath, [
    '--import', join(ROOT, 'node_modules', '@tapjs', 'typescript', 'dist', 'esm', 'import.mjs'),
    join(ROOT, 'test', 'bench', 'run.ts'), '--quick', '--proxy=src',
  ], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 140_000);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearTimeout(timer);
  t.equal(code, 0, `bench exited 0\n${err.slice(-3000)}`);
  const tableRows = out.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Figure'));
  for (const row of ROWS) {
    const line = tableRows.find((l) => l.startsWith(`| ${row}`));
    t.ok(line, `row: ${row}`);
    // A number in the proxy column (no NaN, no dash): the row was really measured.
    t.match(line ?? '', /^\| [^|]+ \| -?\d+(\.\d+)? \|/, `measured: ${row}`);
  }
  t.equal(tableRows.length, ROWS.length, 'no other rows');
});
