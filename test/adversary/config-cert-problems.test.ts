// Adversary: docs/configuration.md promises "Invalid configuration stops start-up with every
// problem listed at once (exit code 78)". A certificate or key file that exists but is no PEM
// (or is a directory) is found only after every other check passed: the CLI then dies with
// exit 1 and that one message, and alongside another problem it is not listed at all (the
// operator fixes the port, restarts, and only then learns of the certificate). The same for
// APP_PASSWORDS_FILE naming a directory: a bare "EISDIR: illegal operation on a directory, read",
// exit 1, naming no setting.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliToExit } from '../harness/cli-process.js';

const dir = mkdtempSync(join(tmpdir(), 'adv-cert-'));
const notPem = join(dir, 'not.pem');
writeFileSync(notPem, 'hello, this is no certificate\n');

const BASE: Record<string, string> = {
  LISTEN_HTTP: '', LISTEN_IMAPS: '', LISTEN_SUBMISSIONS: '',
  LISTEN_IMAP: '127.0.0.1:0', LISTEN_SUBMISSION: '127.0.0.1:0',
  OAUTH2_INTROSPECTION_URL: 'http://127.0.0.1:1/userinfo',
  DMS_HOST: '127.0.0.1', DMS_MASTER_USER: 'master', DMS_MASTER_PASSWORD: 'secret',
};

const runCli = (env: Record<string, string>) => runCliToExit([], { ...BASE, ...env });

t.test('control: a missing certificate file is listed with the other problems, exit 78', async (t) => {
  const r = await runCli({ SSL_CERT_PATH: join(dir, 'missing.pem'), SSL_KEY_PATH: join(dir, 'missing.pem'), DMS_IMAP_PORT: '0' });
  t.equal(r.code, 78, r.out);
  t.match(r.out, /SSL_CERT_PATH/);
  t.match(r.out, /DMS_IMAP_PORT/);
});

t.test('a certificate file that is no PEM: exit 78 (EX_CONFIG), as every invalid configuration', async (t) => {
  const r = await runCli({ SSL_CERT_PATH: notPem, SSL_KEY_PATH: notPem });
  t.equal(r.code, 78, r.out);
  t.match(r.out, /SSL_CERT_PATH/, 'names the setting');
});

t.test('a certificate that is no PEM and a bad port: both listed at once', async (t) => {
  const r = await runCli({ SSL_CERT_PATH: notPem, SSL_KEY_PATH: notPem, DMS_IMAP_PORT: '0' });
  t.equal(r.code, 78, r.out);
  t.match(r.out, /DMS_IMAP_PORT/);
  t.match(r.out, /SSL_CERT_PATH|not a PEM/, `the certificate problem is listed too: ${r.out}`);
});

t.test('a key path that is a directory and a bad port: both listed at once, exit 78', async (t) => {
  const r = await runCli({ SSL_CERT_PATH: notPem, SSL_KEY_PATH: dir, DMS_IMAP_PORT: '0' });
  t.equal(r.code, 78, r.out);
  t.match(r.out, /SSL_KEY_PATH|EISDIR/, `the key problem is listed: ${r.out}`);
});

t.test('APP_PASSWORDS_FILE naming a directory, and a bad port: both listed at once, exit 78', async (t) => {
  const r = await runCli({ ALLOW_PLAINTEXT_AUTH: '1', APP_PASSWORDS_FILE: dir, DMS_IMAP_PORT: '0' });
  t.equal(r.code, 78, r.out);
  t.match(r.out, /APP_PASSWORDS_FILE/, `the app-password file problem is listed: ${r.out}`);
});

t.test('APP_PASSWORDS_FILE naming a directory alone: exit 78 naming the setting, not a bare EISDIR', async (t) => {
  const r = await runCli({ ALLOW_PLAINTEXT_AUTH: '1', APP_PASSWORDS_FILE: dir });
  t.equal(r.code, 78, r.out);
  t.match(r.out, /APP_PASSWORDS_FILE/, r.out);
});
