// CI smoke of `npm run bench`: the quick mode (a few iterations of everything) against the
// real backend, IdP and proxy process, so the bench keeps working. It asserts only that a
// table with every row came out; performance is a benchmark, never a timed test.
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { nginxMailVersion } from './nginx.js';
import { watchChild } from '../harness/watchdog.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ROWS = [
  'Login p50, OAUTHBEARER, cached token',
  'Login p99, OAUTHBEARER, cached token',
  'Login p50, OAUTHBEARER, fresh token',
  'Login p99, OAUTHBEARER, fresh token',
  'Floor: login p50 through a bare Node forwarder',
  'Floor: login p50 through a lean Node login',
  'Reference: login p50 through HAProxy',
  'Peer: login p50 through nginx', // proxy_buffer 4k
  'Peer: login p50 through nginx', // proxy_buffer 64k
  'Peer: login p50 through nginx', // a checking auth_http
  'Login p50 over TLS (implicit, 993), OAUTHBEARER, cached token',
  'Peer: login p50 over TLS through nginx',
  'Proxy CPU per login, 32 concurrent clients',
  'Logins per second, 32 concurrent clients',
  'Floor: CPU per login of a bare Node forwarder',
  'Floor: CPU per login of a lean Node login',
  'Reference: CPU per login of HAProxy',
  'Peer: CPU per login of nginx',
  'Peer: CPU per login of nginx',
  'Peer: CPU per login of nginx', // a checking auth_http
  'Proxy CPU per login over TLS (implicit, 993), 32 concurrent clients',
  'Peer: CPU per login over TLS of nginx',
  'FETCH 1:* BODY.PEEK[], plaintext',
  'Proxy CPU per MiB fetched, plaintext',
  'Floor: FETCH through a bare Node forwarder',
  'Floor: CPU per MiB fetched of a bare Node forwarder',
  'Reference: FETCH through HAProxy',
  'Reference: CPU per MiB fetched of HAProxy',
  'Peer: FETCH through nginx',
  'Peer: CPU per MiB fetched of nginx',
  'Peer: FETCH through nginx',
  'Peer: CPU per MiB fetched of nginx',
  'FETCH 1:* BODY.PEEK[], TLS to the client',
  'Proxy CPU per MiB fetched, TLS to the client',
  'SMTP submission, 1 KiB messages',
  'Proxy CPU per 1 KiB message submitted',
  'SMTP submission, 1 MiB messages',
  'Proxy CPU per 1 MiB message submitted',
  'SMTP submission, plaintext to Postfix, 1 KiB messages',
  'Proxy CPU per 1 KiB message submitted, plaintext to Postfix',
  'SMTP submission, plaintext to Postfix, 1 MiB messages',
  'Proxy CPU per 1 MiB message submitted, plaintext to Postfix',
  'Token validation, cached token',
  'Token validation, local JWT',
  'Proxy memory per idle session, plaintext',
  'Proxy memory per idle session, TLS to the client',
  'Idle sessions in one proxy process',
];

const PHASE_ROWS = [
  'TCP connect (client)',
  'connect → greeting received (client)',
  'AUTHENTICATE sent → backend connection accepted',
  '  of which IdP userinfo',
  '  of which auth_http server',
  'backend accepted → Dovecot greeting',
  'credentials complete → Dovecot tagged OK',
  'Dovecot tagged OK at relay → client OK received',
  'Total: connect → tagged OK received',
];

t.test('npm run bench -- --quick prints a table with every row', { timeout: 150_000 }, async (t) => {
  // Said first and plainly: without nginx's mail module the nginx rows cannot be there.
  t.ok(nginxMailVersion(), 'nginx and libnginx-mod-mail are installed (bash scripts/install-backend.sh, as root)');
  // The proxy runs from src/ (CI does not build dist/ before the tests).
  const child = spawn(process.execPath, [
    '--import', import.meta.resolve('tsx'),
    join(ROOT, 'test', 'bench', 'run.ts'), '--quick', '--proxy=src',
  ], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  // If tap's time-out kills this process, the bench gets SIGTERM and its own watchdog stops the
  // backend, nginx, HAProxy and proxy processes it started (bench-signal.test.ts).
  watchChild(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 140_000);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearTimeout(timer);
  t.equal(code, 0, `bench exited 0\n${err.slice(-3000)}`);
  const [main = '', phases = ''] = out.split('\n| Login phase');
  const tableRows = main.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Figure'));
  const unseen = [...tableRows];
  for (const row of ROWS) {
    const at = unseen.findIndex((l) => l.startsWith(`| ${row}`));
    const line = at >= 0 ? unseen.splice(at, 1)[0] : undefined;
    t.ok(line, `row: ${row}`);
    // A number in the proxy column (no NaN, no dash): the row was really measured.
    t.match(line ?? '', /^\| [^|]+ \| -?\d+(\.\d+)? \|/, `measured: ${row}`);
  }
  t.equal(tableRows.length, ROWS.length, 'no other rows');
  // The login-phase table: direct, direct via relay, proxy (cached, fresh), the lean Node login, nginx.
  t.match(phases, /^ \(median of \d+ logins, ms\) \| Direct \| Direct via relay \| Proxy, cached token \| Proxy, fresh token \| Lean Node login \| nginx \+ auth_http \|/, 'phase table header');
  const phaseRows = phases.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('|---'));
  for (const row of PHASE_ROWS) {
    const line = phaseRows.find((l) => l.startsWith(`| ${row}`));
    t.ok(line, `phase row: ${row}`);
    t.match(line ?? '', /\| \d+\.\d{3} \|/, `phase measured: ${row}`);
  }
  const total = phaseRows.find((l) => l.startsWith('| Total'))?.split('|').slice(2, 8).map((c) => c.trim()) ?? [];
  t.ok(total.length === 6 && total.every((c) => /^\d+\.\d{3}$/.test(c)), `a total for every target: ${total.join(', ')}`);
});
