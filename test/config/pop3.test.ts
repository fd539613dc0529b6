// POP3's keys: both listeners off by default; like IMAP's, the implicit-TLS one needs a
// certificate and the plaintext one STLS (a certificate) or ALLOW_PLAINTEXT_AUTH.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { writePemPair } from '../harness/certs.js';

const dir = mkdtempSync(join(tmpdir(), 'o2mp-config-'));
const cert = join(dir, 'cert.pem');
await writePemPair(cert, cert);
const minimal = { OAUTH2_INTROSPECTION_URL: 'https://idp.example/userinfo', DMS_MASTER_USER: 'proxy', DMS_MASTER_PASSWORD: 'pw', SSL_CERT_PATH: cert, SSL_KEY_PATH: cert };

t.test('defaults: no POP3 listener; DMS pop3 on 110 with STLS, no PROXY header', async (t) => {
  const c = loadConfig(minimal);
  t.equal(c.listen.pop3, null);
  t.equal(c.listen.pop3s, null);
  t.equal(c.backend.pop3Port, 110);
  t.equal(c.backend.pop3Tls, 'starttls');
  t.equal(c.proxyProtocol.toPop3, false);
});

t.test('set: the listeners, port, TLS mode and PROXY header', async (t) => {
  const c = loadConfig({ ...minimal, LISTEN_POP3: '0.0.0.0:110', LISTEN_POP3S: '[::]:995', DMS_POP3_PORT: '10110', DMS_POP3_TLS: 'implicit', DMS_POP3_PROXY_PROTOCOL: '1' });
  t.same(c.listen.pop3, { host: '0.0.0.0', port: 110 });
  t.same(c.listen.pop3s, { host: '::', port: 995 });
  t.equal(c.backend.pop3Port, 10110);
  t.equal(c.backend.pop3Tls, 'implicit');
  t.equal(c.proxyProtocol.toPop3, true);
  t.throws(() => loadConfig({ ...minimal, DMS_POP3_TLS: 'sometimes' }), /DMS_POP3_TLS/);
});

t.test('without a certificate: LISTEN_POP3S refused, LISTEN_POP3 only with ALLOW_PLAINTEXT_AUTH', async (t) => {
  const noTls = { ...minimal, SSL_CERT_PATH: '', SSL_KEY_PATH: '', LISTEN_IMAPS: '', LISTEN_SUBMISSIONS: '', ALLOW_PLAINTEXT_AUTH: '1' };
  t.throws(() => loadConfig({ ...noTls, LISTEN_POP3S: '0.0.0.0:995' }), /LISTEN_POP3S needs SSL_CERT_PATH/);
  t.throws(() => loadConfig({ ...noTls, ALLOW_PLAINTEXT_AUTH: '0', LISTEN_IMAP: '', LISTEN_SUBMISSION: '', LISTEN_POP3: '0.0.0.0:110' }), /LISTEN_POP3 without SSL_CERT_PATH/);
  t.same(loadConfig({ ...noTls, LISTEN_POP3: '0.0.0.0:110' }).listen.pop3, { host: '0.0.0.0', port: 110 });
  t.same(loadConfig({ ...noTls, LISTEN_IMAP: '', LISTEN_SUBMISSION: '', LISTEN_POP3: '0.0.0.0:110' }).listen.imap, null, 'POP3 alone is a listener');
});
