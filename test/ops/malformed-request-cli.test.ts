// The report of issue 16, against the real CLI process: one unauthenticated request with a
// target `new URL()` cannot parse (what `curl --path-as-is 'http://host:PORT//a:99999'`
// sends) used to end the whole process, IMAP and SMTP with it. The process must live on,
// SCIM and the ops listener must answer 4xx, and the IMAP listener must still greet.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCerts } from '../harness/certs.js';
import { freePorts } from '../harness/ports.js';
import { eventually } from '../harness/proxy.js';
import { RawClient } from '../harness/raw-imap.js';
import { rawGet, rawHttp } from '../harness/raw-http.js';

const dir = mkdtempSync(join(tmpdir(), 'omp-malformed-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certs = await makeCerts(dir, { prefix: 'proxy-' });
const [imap, httpPort, scimPort, deadPort] = await freePorts(4) as [number, number, number, number];
const root = new URL('../../', import.meta.url).pathname;
const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), 'src/cli.ts'], {
  cwd: root,
  env: {
    PATH: process.env.PATH,
    LISTEN_IMAP: `127.0.0.1:${imap}`, LISTEN_IMAPS: '', LISTEN_SUBMISSION: '', LISTEN_SUBMISSIONS: '',
    LISTEN_HTTP: `127.0.0.1:${httpPort}`, LISTEN_SCIM: `127.0.0.1:${scimPort}`, SCIM_TOKEN: 'scim-token-0123456789abcdef', DMS_CONFIG_DIR: dir,
    SSL_CERT_PATH: certs.certFile, SSL_KEY_PATH: certs.keyFile, SMTP_HOSTNAME: 'proxy.example.test',
    // Nothing listens there: this test needs no backend or IdP, only the listeners.
    OAUTH2_INTROSPECTION_URL: `http://127.0.0.1:${deadPort}/userinfo`, DMS_HOST: '127.0.0.1', DMS_IMAP_PORT: String(deadPort),
    DMS_MASTER_USER: 'master', DMS_MASTER_PASSWORD: 'master-password', LOG_LEVEL: 'info', CI: '1',
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let output = '';
child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });

async function greets(): Promise<boolean> {
  try {
    const c = await RawClient.connect(imap, { timeoutMs: 2000 });
    try { return /^\* OK/.test(await c.line(2000)); } finally { c.close(); }
  } catch {
    return false;
  }
}

t.test('malformed targets to SCIM and ops: 4xx, and the process and IMAP live on', async (t) => {
  await eventually(greets, 120_000, `the CLI to listen (output: ${output.slice(-2000)})`);
  for (const target of ['//a:99999', '//%zz', '/scim/v2/Users/%zz']) {
    const r = await rawHttp(scimPort, rawGet(target));
    t.ok(r.statuses.length === 1 && r.statuses[0]! >= 400 && r.statuses[0]! < 500, `SCIM ${target}: ${r.statuses.join(',') || 'no answer'}`);
    const o = await rawHttp(httpPort, rawGet(target));
    t.ok(o.statuses.length === 1 && o.statuses[0]! >= 400 && o.statuses[0]! < 500, `ops ${target}: ${o.statuses.join(',') || 'no answer'}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 300)); // an unhandled rejection ends the process on the next tick
  t.equal(child.exitCode, null, `the process is still running (output: ${output.slice(-1500)})`);
  t.ok(await greets(), 'IMAP still greets');
  t.notMatch(output, /"level":50/, 'no error-level log line');
});
