// Adversary (operator's path): `doctor --user` is what the README sends an operator to when a
// login fails, and it checked the DMS ports and master logins of IMAP and submission only. With
// the POP3 or ManageSieve front on (LISTEN_POP3/LISTEN_POP3S, LISTEN_MANAGESIEVE), their backend
// leg can be wrong while IMAP's is right, and on DMS with Dovecot 2.4 it easily is: a POP3 leg in
// the clear (DMS_POP3_TLS=none) is refused for want of TLS, a ManageSieve leg with a PROXY header
// and STARTTLS is refused STARTTLS (2.4 takes the header's TLS flag as TLS already active), a DMS
// without ENABLE_POP3=1 has no port 110 at all. doctor said "all checks passed" (exit 0) for each,
// while every POP3 or ManageSieve login failed and /readyz, which does probe those ports, said not
// ready. It must check what the proxy will do: the ports and the master logins of every front on.
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
  // On 127.0.0.2, as DMS in its own container: Dovecot 2.4 counts the proxy's leg as secured only over TLS.
  const backend = await startBackend({ flavour: 'debian13', host: '127.0.0.2' });
  t.teardown(() => backend.stop());
  const idp = await startIdp();
  t.teardown(() => idp.stop());
  const dir = mkdtempSync(join(tmpdir(), 'omp-doctor-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const certs = await makeCerts(dir, { prefix: 'proxy-' });
  const alice = backend.users[0]!;
  const env = {
    PATH: process.env.PATH ?? '', SSL_CERT_PATH: certs.certFile, SSL_KEY_PATH: certs.keyFile, SMTP_HOSTNAME: 'proxy.example.test',
    OAUTH2_INTROSPECTION_URL: idp.userinfoUrl, DMS_HOST: backend.host, DMS_IMAP_PORT: String(backend.imapPort),
    DMS_SUBMISSION_PORT: String(backend.submissionPort), DMS_TLS_CA_FILE: backend.caFile, DMS_TLS_SERVERNAME: 'localhost',
    DMS_MASTER_USER: backend.master.user, DMS_MASTER_PASSWORD: backend.master.password,
    LISTEN_POP3S: '127.0.0.1:0', DMS_POP3_PORT: String(backend.pop3Port),
    LISTEN_MANAGESIEVE: '127.0.0.1:0', DMS_MANAGESIEVE_PORT: String(backend.managesievePort),
  };
  const doctor = async (extra: Record<string, string>) => {
    const lines: string[] = [];
    const code = await runDoctor({ env: { ...env, ...extra }, file: {}, user: alice.email }, (l) => lines.push(l));
    return { code, out: lines.join('\n') };
  };

  t.test('a good setup: POP3 and ManageSieve master logins are checked and pass', async (t) => {
    const r = await doctor({});
    t.equal(r.code, 0, r.out);
    t.match(r.out, /^\[ OK \] POP3 master login as alice@example\.test/m);
    t.match(r.out, /^\[ OK \] ManageSieve master login as alice@example\.test/m);
  });

  t.test('DMS_POP3_TLS=none towards Dovecot 2.4: doctor fails and names the setting', async (t) => {
    const r = await doctor({ DMS_POP3_TLS: 'none' });
    t.equal(r.code, 1, r.out);
    t.match(r.out, /^\[FAIL\] POP3 master login as alice@example\.test: .*DMS_POP3_TLS/m);
  });

  t.test('ManageSieve with a PROXY header and STARTTLS towards Dovecot 2.4: doctor fails', async (t) => {
    const r = await doctor({ DMS_MANAGESIEVE_PROXY_PROTOCOL: '1', DMS_MANAGESIEVE_PORT: String(backend.managesieveHaproxyPort) });
    t.equal(r.code, 1, r.out);
    t.match(r.out, /^\[FAIL\] ManageSieve master login as alice@example\.test: /m);
  });

  t.test('no POP3 at DMS_POP3_PORT (DMS without ENABLE_POP3=1): doctor fails the reachability check', async (t) => {
    const r = await doctor({ DMS_POP3_PORT: '1' });
    t.equal(r.code, 1, r.out);
    t.match(r.out, /^\[FAIL\] DMS POP3 reachable: /m);
  });
}
