// Adversary: SIGHUP, the signal every mail daemon an operator knows takes as "reload" (Dovecot,
// Postfix, nginx, HAProxy), and what certbot deploy hooks and `systemctl reload` /
// `docker kill -s HUP` send after a renewal. The proxy installed no handler for it, so Node's
// default applied: the process died on the spot (signal exit, code 129 in a shell). Every
// IMAP and SMTP session was cut mid-command, with none of SHUTDOWN_GRACE_SECONDS' care (a
// message in DATA lost), and with `restart: always` the container came back cold. The same
// happens to a proxy started from a terminal or an ssh session that ends.
//
// Expected: SIGHUP keeps the proxy running and checks the certificate files now (as the
// TLS_RELOAD_INTERVAL_SECONDS poll does), so a renewal hook can make a new certificate
// serve at once, also with the poll turned off (0).
import t from 'tap';
import { copyFileSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { makeCerts } from '../harness/certs.js';
import { freePorts } from '../harness/ports.js';
import { spawnCli } from '../harness/cli-process.js';
import { eventually } from '../harness/proxy.js';

const dir = mkdtempSync(join(tmpdir(), 'adv-sighup-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const a = await makeCerts(dir, { prefix: 'a-' });
const b = await makeCerts(dir, { prefix: 'b-' });
const live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key') };
copyFileSync(a.certFile, live.cert);
copyFileSync(a.keyFile, live.key);
const fingerprint = (file: string): string => new X509Certificate(readFileSync(file)).fingerprint256;

function served(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false });
    s.once('secureConnect', () => { resolve(s.getPeerX509Certificate()!.fingerprint256); s.destroy(); });
    s.once('error', reject);
  });
}

const [imaps, httpPort] = await freePorts(2) as [number, number];
const cli = spawnCli({
  LISTEN_IMAP: '', LISTEN_SUBMISSION: '', LISTEN_SUBMISSIONS: '',
  LISTEN_IMAPS: `127.0.0.1:${imaps}`,
  SSL_CERT_PATH: live.cert, SSL_KEY_PATH: live.key,
  TLS_RELOAD_INTERVAL_SECONDS: '0', // only the signal can make it look at the files
  OAUTH2_INTROSPECTION_URL: 'http://127.0.0.1:1/userinfo',
  DMS_HOST: '127.0.0.1', DMS_MASTER_USER: 'proxy', DMS_MASTER_PASSWORD: 'pw',
  LOG_LEVEL: 'info',
}, httpPort);
t.teardown(() => cli.kill());

t.test('SIGHUP: the proxy keeps running and serves the renewed certificate', async (t) => {
  let first = '';
  await eventually(async () => { first = await served(imaps).catch(() => ''); return first !== ''; }, 120_000, `the CLI to listen (output: ${cli.output().slice(-2000)})`);
  t.equal(first, fingerprint(a.certFile), 'the first certificate');

  // A renewal, as certbot writes it; then its deploy hook sends HUP.
  for (const [from, to] of [[b.certFile, live.cert], [b.keyFile, live.key]] as const) {
    copyFileSync(from, `${to}.tmp`);
    renameSync(`${to}.tmp`, to);
  }
  cli.child.kill('SIGHUP');
  const exited = await Promise.race([cli.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 2000))]);
  t.notOk(exited, `still running after SIGHUP (exit ${cli.child.exitCode}, signal ${cli.child.signalCode})`);
  if (exited) return;
  await eventually(async () => (await served(imaps).catch(() => '')) === fingerprint(b.certFile), 10_000, 'the renewed certificate served');
  t.pass('the renewed certificate is served');

  // A second HUP with nothing changed does no harm either.
  cli.child.kill('SIGHUP');
  await new Promise((r) => setTimeout(r, 500));
  t.equal(cli.child.exitCode, null, 'still running after a second SIGHUP');
  t.equal(await served(imaps), fingerprint(b.certFile));
});
