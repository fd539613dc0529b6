// The portal keys (issue 19): off by default; with LISTEN_PORTAL, start-up fails with one
// message that names every missing or wrong setting.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { writePemPair } from '../harness/certs.js';

const dir = mkdtempSync(join(tmpdir(), 'o2mp-config-portal-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
const secretFile = join(dir, 'portal-secret');
await writePemPair(cert, key);
writeFileSync(secretFile, 's3cret-from-a-file\n');
const minimal = { OAUTH2_INTROSPECTION_URL: 'https://idp.example/userinfo', DMS_MASTER_USER: 'proxy', DMS_MASTER_PASSWORD: 'pw', SSL_CERT_PATH: cert, SSL_KEY_PATH: key };
const portal = { LISTEN_PORTAL: '0.0.0.0:8443', PORTAL_URL: 'https://mail.example.com:8443', PORTAL_CLIENT_ID: 'mail-portal', OAUTH2_ISSUER: 'https://idp.example', APP_PASSWORDS_FILE: join(dir, 'ap.json') };

const problems = (env: Record<string, string>, file = {}): string => {
  try {
    loadConfig(env, file);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n');
    throw err;
  }
  return '';
};

t.test('off by default', async (t) => {
  t.equal(loadConfig(minimal).portal, null);
});

t.test('a public client with PKCE alone; the redirect URI is PORTAL_URL/callback', async (t) => {
  const c = loadConfig({ ...minimal, ...portal }).portal!;
  t.same(c.listen, { host: '0.0.0.0', port: 8443 });
  t.equal(c.origin, 'https://mail.example.com:8443');
  t.equal(c.redirectUri, 'https://mail.example.com:8443/callback');
  t.equal(c.clientSecret, '');
  t.equal(c.issuer, 'https://idp.example');
  t.same(c.scopes, ['openid', 'email', 'profile']);
  t.equal(c.sessionTtlMs, 1800_000);
  t.equal(loadConfig({ ...minimal, ...portal, PORTAL_CLIENT_SECRET_FILE: secretFile }).portal!.clientSecret, 's3cret-from-a-file');
});

t.test('PORTAL_URL as the URL parser writes it: the redirect URI the IdP must have, byte for byte (docs/portal.md)', async (t) => {
  const c = loadConfig({ ...minimal, ...portal, PORTAL_URL: 'https://Mail.Example.com:443/' }).portal!;
  t.equal(c.origin, 'https://mail.example.com');
  t.equal(c.redirectUri, 'https://mail.example.com/callback', 'lower-case host, no :443, no double slash');
});

t.test('the issuer may come from the first item of the YAML issuers: list', async (t) => {
  const { OAUTH2_ISSUER: _none, ...noIssuer } = portal;
  const file = { issuers: JSON.stringify([{ NAME: 'a', OAUTH2_ISSUER: 'https://first.example', OAUTH2_INTROSPECTION_URL: 'https://first.example/me' }, { NAME: 'b', OAUTH2_ISSUER: 'https://second.example', OAUTH2_INTROSPECTION_URL: 'https://second.example/me', OAUTH2_OPAQUE_TOKENS: 'none' }]) };
  t.equal(loadConfig({ ...minimal, ...noIssuer }, file).portal!.issuer, 'https://first.example');
});

t.test('LISTEN_PORTAL alone: every missing setting named at once', async (t) => {
  const all = problems({ ...minimal, SSL_CERT_PATH: '', SSL_KEY_PATH: '', LISTEN_IMAPS: '', LISTEN_SUBMISSIONS: '', ALLOW_PLAINTEXT_AUTH: '1', LISTEN_PORTAL: '127.0.0.1:8443' });
  for (const p of [/PORTAL_URL: required/, /PORTAL_CLIENT_ID: required/, /OAUTH2_ISSUER: required with LISTEN_PORTAL/, /APP_PASSWORDS_FILE: required with LISTEN_PORTAL/, /LISTEN_PORTAL needs SSL_CERT_PATH and SSL_KEY_PATH/]) t.match(all, p);
});

t.test('PORTAL_URL must be https, without a path', async (t) => {
  t.match(problems({ ...minimal, ...portal, PORTAL_URL: 'http://mail.example.com:8443' }), /PORTAL_URL: must be an https:\/\/ URL/);
  t.match(problems({ ...minimal, ...portal, PORTAL_URL: 'https://mail.example.com/portal' }), /PORTAL_URL: no path/);
  t.match(problems({ ...minimal, ...portal, PORTAL_SCOPES: 'email' }), /PORTAL_SCOPES: must include openid/);
});
