// Adversary: in local mode the proxy refuses Keycloak's ID and refresh tokens presented as
// access tokens (src/auth/validators/jwt.ts: the payload `typ` is ID / Refresh, not Bearer).
// Introspection (mode post, and auto for tokens it does not verify itself) had no such check:
// Keycloak introspects those tokens too and answers `active: true` with their claims, `typ`
// included. An ID token carries the user's email and names the mail client as `aud`/`azp`,
// and it travels where access tokens do not (front ends, the id_token_hint of an
// RP-initiated logout URL, in browser history and access logs); a refresh token is meant for
// the token endpoint only, where a confidential client must also authenticate. Either one,
// found by anyone, opened the user's mailbox over IMAP, SMTP, POP3 and ManageSieve. Ory
// Hydra says the same with `token_use: refresh_token` (its refresh tokens are introspectable).
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { validation } from '../auth/helpers.js';

const now = () => Math.floor(Date.now() / 1000);
// What Keycloak's introspection endpoint answers for each kind of token of one user.
const claims = (typ: string | undefined, use?: string) => ({
  active: true, ...(typ ? { typ } : {}), ...(use ? { token_use: use } : {}), iss: 'https://kc.example.test/realms/mail', aud: 'mail-client', azp: 'mail-client', sub: 'u-1',
  email: 'alice@example.test', email_verified: true, preferred_username: 'alice', client_id: 'mail-client',
  scope: 'openid email profile', iat: now(), exp: now() + 300,
});
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => { body += c.toString(); });
  req.on('end', () => {
    const token = new URLSearchParams(body).get('token') ?? '';
    const typ = token.startsWith('hydra-') ? undefined : token.startsWith('id-') ? 'ID' : token.startsWith('refresh-') ? 'Refresh' : 'Bearer';
    const use = token.startsWith('hydra-refresh-') ? 'refresh_token' : token.startsWith('hydra-') ? 'access_token' : undefined;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(claims(typ, use)));
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
t.teardown(() => new Promise<void>((r) => server.close(() => r())));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`;

const v = validation({
  OAUTH2_INTROSPECTION_MODE: 'post', OAUTH2_INTROSPECTION_URL: url, OAUTH2_CLIENT_ID: 'oauth2-mail-proxy',
  OAUTH2_CLIENT_SECRET: 'secret', OAUTH2_AUDIENCE: 'mail-client',
});
t.teardown(() => v.close());

t.test('an access token (typ Bearer) is accepted', async (t) => {
  t.match(await v.checker.check('access-0123456789abcdef'), { status: 'valid', user: 'alice@example.test' });
  t.match(await v.checker.check('hydra-0123456789abcdef'), { status: 'valid', user: 'alice@example.test' }, 'Hydra: token_use access_token');
});

t.test('an Ory Hydra refresh token (token_use refresh_token) is refused', async (t) => {
  t.equal((await v.checker.check('hydra-refresh-0123456789abcdef')).status, 'invalid');
});

for (const [prefix, typ] of [['id-', 'ID'], ['refresh-', 'Refresh']] as const) {
  t.test(`a Keycloak ${typ} token presented as an access token is refused, as in local mode`, async (t) => {
    const d = await v.checker.check(`${prefix}0123456789abcdef`);
    t.equal(d.status, 'invalid', `typ ${typ}: not a login`);
  });
}
