// Adversary (operator's path): DMS's Dovecot does not count the proxy's address in
// login_trusted_networks (the override file left behind when DMS moved to Dovecot 2.4, whose
// override is another file, or the proxy's address changed). Logins still work, but Dovecot then
// ignores the client's address: every session, auth penalty and Fail2Ban line is the proxy's, so
// a few failed logins have DMS's Fail2Ban ban the proxy, i.e. every user. For POP3 and ManageSieve
// Dovecot says so before any login: its pop3 greeting lacks `[XCLIENT]` and its ManageSieve
// capabilities lack `XCLIENT`. The proxy then silently logged in without the client's address,
// and doctor said "all checks passed". doctor must say that Dovecot does not trust the proxy.
import t from 'tap';
import { startBackend } from '../harness/backend.js';
import { debian13Unavailable } from '../harness/flavour.js';
import { startIdp } from '../harness/idp.js';
import { makeCerts } from '../harness/certs.js';
import { runDoctor } from '../../src/doctor/run.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const unavailable = debian13Unavailable();
if (unavailable) {
  t.plan(0, `Dovecot 2.4 backend: ${unavailable}`);
} else {
  await suite();
}

async function suite(): Promise<void> {
  // login_trusted_networks names no address of the proxy's (the last setting wins in Dovecot's config).
  const backend = await startBackend({ flavour: 'debian13', host: '127.0.0.2', dovecotConf: 'login_trusted_networks = 192.0.2.0/24\n' });
  t.teardown(() => backend.stop());
  const idp = await startIdp();
  t.teardown(() => idp.stop());
  const dir = mkdtempSync(join(tmpdir(), 'omp-doctor-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const certs = await makeCerts(dir, { prefix: 'proxy-' });
  const env = {
    PATH: process.env.PATH ?? '', SSL_CERT_PATH: certs.certFile, SSL_KEY_PATH: certs.keyFile, SMTP_HOSTNAME: 'proxy.example.test',
    OAUTH2_INTROSPECTION_URL: idp.userinfoUrl, DMS_HOST: backend.host, DMS_IMAP_PORT: String(backend.imapPort),
    DMS_SUBMISSION_PORT: String(backend.submissionPort), DMS_TLS_CA_FILE: backend.caFile, DMS_TLS_SERVERNAME: 'localhost',
    DMS_MASTER_USER: backend.master.user, DMS_MASTER_PASSWORD: backend.master.password,
    LISTEN_POP3S: '127.0.0.1:0', DMS_POP3_PORT: String(backend.pop3Port),
    LISTEN_MANAGESIEVE: '127.0.0.1:0', DMS_MANAGESIEVE_PORT: String(backend.managesievePort),
  };
  const doctor = async (extra: Record<string, string> = {}) => {
    const lines: string[] = [];
    const code = await runDoctor({ env: { ...env, ...extra }, file: {}, user: backend.users[0]!.email }, (l) => lines.push(l));
    return { code, out: lines.join('\n') };
  };

  t.test('Dovecot does not trust the proxy: doctor says so for POP3 and ManageSieve, naming login_trusted_networks', async (t) => {
    const r = await doctor();
    t.not(r.code, 0, r.out);
    t.match(r.out, /^\[(WARN|FAIL)\] POP3 master login as [^:]+: .*login_trusted_networks/m);
    t.match(r.out, /^\[(WARN|FAIL)\] ManageSieve master login as [^:]+: .*login_trusted_networks/m);
  });

  t.test('behind PROXY protocol the trust is haproxy_trusted_networks: no such line', async (t) => {
    const r = await doctor({
      DMS_POP3_PROXY_PROTOCOL: '1', DMS_POP3_TLS: 'none', DMS_POP3_PORT: String(backend.pop3HaproxyPort),
      DMS_MANAGESIEVE_PROXY_PROTOCOL: '1', DMS_MANAGESIEVE_TLS: 'none', DMS_MANAGESIEVE_PORT: String(backend.managesieveHaproxyPort),
    });
    t.equal(r.code, 0, r.out);
    t.notMatch(r.out, /login_trusted_networks/);
  });
}
