// Token validation end to end: real clients -> proxy -> real Dovecot, tokens from a real
// OpenID provider, in modes local and post; and an IdP outage after the first login.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ImapFlow } from 'imapflow';
import { startBackend } from '../harness/backend.js';
import { startIdp, DEFAULT_AUDIENCE, type Idp } from '../harness/idp.js';
import { startProxy, type TestProxy } from '../harness/proxy.js';
import { xoauth2Login } from '../harness/raw-imap.js';

const backend = await startBackend();
t.teardown(() => backend.stop());
const [alice, bob] = backend.users as [typeof backend.users[0], typeof backend.users[0]];
const secrets: string[] = [alice.password, bob.password, backend.master.password];

async function proxyFor(idp: Idp, env: Record<string, string>): Promise<TestProxy> {
  const p = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env });
  t.teardown(() => p.stop());
  return p;
}

function rawLogin(p: TestProxy, email: string, token: string): Promise<string> {
  return xoauth2Login(p.imapsPort, readFileSync(p.certs.caFile, 'utf8'), email, token);
}

const idp = await startIdp();
t.teardown(() => idp.stop());

t.test('mode local: imapflow logs in with an RFC 9068 JWT, no IdP call per login', async (t) => {
  const p = await proxyFor(idp, { OAUTH2_INTROSPECTION_MODE: 'local', OAUTH2_ISSUER: idp.issuer, OAUTH2_AUDIENCE: DEFAULT_AUDIENCE });
  const jwt = await idp.mintJwt(alice.email);
  secrets.push(jwt);
  const client = new ImapFlow({
    host: '127.0.0.1', port: p.imapsPort, secure: true, tls: { ca: readFileSync(p.certs.caFile, 'utf8'), servername: 'localhost' },
    auth: { user: alice.email, accessToken: jwt }, logger: false, disableAutoIdle: true,
  });
  await client.connect();
  const status = await client.status('INBOX', { messages: true });
  t.type(status && status.messages, 'number');
  await client.logout();
  const before = { ...idp.counts };
  t.match(await rawLogin(p, alice.email, jwt), /^a1 OK /, 'second login');
  t.same(idp.counts, before, 'no userinfo, introspection or JWKS request for the second login');
  t.match(await rawLogin(p, alice.email, await idp.mintJwt(alice.email, { audience: 'https://other.example' })), /^a1 NO \[AUTHENTICATIONFAILED\]/, 'wrong audience');
  t.ok(p.logs().some((l) => l.event === 'auth-failed' && /claim aud/.test(String(l.reason))), 'the reason is in the log');
  secrets.forEach((s) => t.notOk(p.rawLogs().includes(s)));
});

t.test('mode post: introspection with client credentials; policy denial is AUTHENTICATIONFAILED', async (t) => {
  const p = await proxyFor(idp, {
    OAUTH2_INTROSPECTION_MODE: 'post', OAUTH2_INTROSPECTION_URL: idp.introspectionUrl,
    OAUTH2_CLIENT_ID: idp.introspectionClient.clientId, OAUTH2_CLIENT_SECRET: idp.introspectionClient.clientSecret,
    OAUTH2_REQUIRED_GROUPS: 'mail', OAUTH2_GROUPS_CLAIM: 'realm_access.roles',
  });
  const tok = await idp.mintToken(bob.email);
  secrets.push(tok, idp.introspectionClient.clientSecret);
  const before = idp.counts.introspection;
  for (let i = 0; i < 3; i++) t.match(await rawLogin(p, bob.email, tok), /^a1 OK \[CAPABILITY /, `login ${i + 1}`);
  t.equal(idp.counts.introspection, before + 1, 'three logins, one introspection');
  t.match(await rawLogin(p, alice.email, tok), /^a1 NO \[AUTHENTICATIONFAILED\]/, "bob's token for alice");

  const strict = await proxyFor(idp, {
    OAUTH2_INTROSPECTION_MODE: 'post', OAUTH2_INTROSPECTION_URL: idp.introspectionUrl,
    OAUTH2_CLIENT_ID: idp.introspectionClient.clientId, OAUTH2_CLIENT_SECRET: idp.introspectionClient.clientSecret,
    OAUTH2_REQUIRED_GROUPS: 'admins',
  });
  t.match(await rawLogin(strict, bob.email, tok), /^a1 NO \[AUTHENTICATIONFAILED\]/);
  t.ok(strict.logs().some((l) => l.event === 'auth-failed' && /policy: .*none of admins/.test(String(l.reason))));

  const wrong = await proxyFor(idp, {
    OAUTH2_INTROSPECTION_MODE: 'post', OAUTH2_INTROSPECTION_URL: idp.introspectionUrl,
    OAUTH2_CLIENT_ID: idp.introspectionClient.clientId, OAUTH2_CLIENT_SECRET: 'not-the-secret',
  });
  t.match(await rawLogin(wrong, bob.email, tok), /^a1 NO \[UNAVAILABLE\]/, 'our bad client secret is not the user\'s bad token');
  t.ok(wrong.logs().some((l) => l.event === 'idp-misconfigured' && /client credentials/.test(String(l.reason))));
  for (const px of [p, strict, wrong]) secrets.forEach((s) => t.notOk(px.rawLogs().includes(s), 'no secret in the log'));
});

t.test('IdP stopped after the first login: the cached user still logs in, a new token gets UNAVAILABLE', async (t) => {
  const down = await startIdp();
  const p = await proxyFor(down, {
    OAUTH2_INTROSPECTION_MODE: 'post', OAUTH2_INTROSPECTION_URL: down.introspectionUrl,
    OAUTH2_CLIENT_ID: down.introspectionClient.clientId, OAUTH2_CLIENT_SECRET: down.introspectionClient.clientSecret,
  });
  const first = await down.mintToken(alice.email);
  const fresh = await down.mintToken(bob.email);
  t.match(await rawLogin(p, alice.email, first), /^a1 OK /);
  await down.stop();
  t.match(await rawLogin(p, alice.email, first), /^a1 OK /, 'cached');
  t.match(await rawLogin(p, bob.email, fresh), /^a1 NO \[UNAVAILABLE\]/, 'new token');
  t.ok(p.logs().some((l) => l.event === 'auth-unavailable'));
});
