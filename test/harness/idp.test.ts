// Proves the in-process OpenID provider with plain HTTP, the way the proxy will use it.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { accountIdFor, startIdp, type Idp } from './idp.js';

const opts = { headersTimeout: 10_000, bodyTimeout: 10_000 };

async function getJson(url: string, token?: string) {
  const res = await request(url, { ...opts, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function introspect(idp: Idp, token: string, auth: 'basic' | 'post' = 'basic') {
  const { clientId, clientSecret } = idp.introspectionClient;
  const form = new URLSearchParams({ token });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (auth === 'basic') headers.authorization = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
  else { form.set('client_id', clientId); form.set('client_secret', clientSecret); }
  return request(idp.introspectionUrl, { ...opts, method: 'POST', headers, body: form.toString() })
    .then(async (res) => ({ status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> }));
}

t.test('in-process IdP', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.stop());

  t.test('discovery', async (t) => {
    const { status, json } = await getJson(idp.discoveryUrl);
    t.equal(status, 200);
    t.equal(json.issuer, idp.issuer);
    t.equal(json.userinfo_endpoint, idp.userinfoUrl);
    t.equal(json.introspection_endpoint, idp.introspectionUrl);
    t.equal(json.jwks_uri, idp.jwksUrl);
  });

  t.test('opaque token at userinfo', async (t) => {
    const before = idp.counts.userinfo;
    const token = await idp.mintToken('alice@example.test');
    const ok = await getJson(idp.userinfoUrl, token);
    t.equal(ok.status, 200);
    t.match(ok.json, { sub: accountIdFor('alice@example.test'), email: 'alice@example.test', email_verified: true });
    t.equal((await getJson(idp.userinfoUrl, 'garbage-token')).status, 401);
    t.equal(idp.counts.userinfo, before + 2);
  });

  t.test('expired token fails at userinfo', async (t) => {
    // Lifetimes are whole seconds from a whole-second iat: a 1 s token minted late in a second
    // may be expired a few ms later (a CI flake). 2 s leaves at least 1 s for the first check.
    const token = await idp.mintToken('bob@example.test', { expiresInSeconds: 2 });
    t.equal((await getJson(idp.userinfoUrl, token)).status, 200);
    await sleep(3100);
    t.equal((await getJson(idp.userinfoUrl, token)).status, 401);
  });

  t.test('introspection (basic and post)', async (t) => {
    const before = idp.counts.introspection;
    const token = await idp.mintToken('alice@example.test');
    const basic = await introspect(idp, token);
    t.equal(basic.status, 200);
    t.match(basic.json, {
      active: true,
      sub: accountIdFor('alice@example.test'),
      email: 'alice@example.test',
      email_verified: true,
      scope: 'openid email profile',
      client_id: String,
      exp: Number,
      realm_access: { roles: Array },
    });
    t.match((await introspect(idp, token, 'post')).json, { active: true, email: 'alice@example.test' });
    t.same((await introspect(idp, 'garbage-token')).json, { active: false });
    t.equal(idp.counts.introspection, before + 3);
  });

  t.test('revoke', async (t) => {
    const token = await idp.mintToken('bob@example.test');
    t.equal((await getJson(idp.userinfoUrl, token)).status, 200);
    await idp.revoke(token);
    t.equal((await getJson(idp.userinfoUrl, token)).status, 401);
    t.same((await introspect(idp, token)).json, { active: false });
  });

  t.test('added accounts and unknown accounts', async (t) => {
    idp.addAccount({ email: 'carol@example.test', emailVerified: false, groups: ['staff'] });
    const { json } = await getJson(idp.userinfoUrl, await idp.mintToken('carol@example.test'));
    t.match(json, { email: 'carol@example.test', email_verified: false, groups: ['staff'] });
    await t.rejects(idp.mintToken('nobody@example.test'), /refused/);
  });

  t.test('JWT access token verifies against the JWKS', async (t) => {
    const before = idp.counts.jwks;
    const jwks = createRemoteJWKSet(new URL(idp.jwksUrl), { timeoutDuration: 10_000 });
    const verify = (token: string, audience = 'urn:oauth2-mail-proxy') =>
      jwtVerify(token, jwks, { issuer: idp.issuer, audience, algorithms: ['RS256', 'ES256'], typ: 'at+jwt' });

    const rs = await verify(await idp.mintJwt('alice@example.test'));
    t.equal(rs.protectedHeader.alg, 'RS256');
    t.match(rs.payload, { sub: accountIdFor('alice@example.test'), email: 'alice@example.test', groups: ['mail-users'] });

    const es = await verify(await idp.mintJwt('bob@example.test', { audience: 'https://other.example', alg: 'ES256' }), 'https://other.example');
    t.equal(es.protectedHeader.alg, 'ES256');
    t.equal(es.payload.email, 'bob@example.test');

    t.ok(idp.counts.jwks > before, 'JWKS fetched over HTTP');
  });

  t.test('key rotation: new kids sign, old keys stay published, opaque tokens survive', async (t) => {
    const header = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as { kid: string; alg: string };
    const kidsOf = async () => ((await getJson(idp.jwksUrl)).json.keys as Array<{ kid: string }>).map((k) => k.kid);
    const oldJwt = await idp.mintJwt('alice@example.test');
    const opaque = await idp.mintToken('alice@example.test');
    const before = await kidsOf();
    const fresh = await idp.rotateKeys();
    t.equal(fresh.length, 2, 'a new RS256 and ES256 key');
    t.same(await kidsOf(), [...fresh, ...before], 'new keys first, old ones still published');
    t.equal(header(await idp.mintJwt('alice@example.test')).kid, fresh[0], 'RS256 tokens now signed with the new key');
    t.equal(header(await idp.mintJwt('alice@example.test', { alg: 'ES256' })).kid, fresh[1], 'ES256 too');
    t.ok(before.includes(header(oldJwt).kid), 'the token from before carries an old kid');
    t.match((await introspect(idp, opaque)).json, { active: true }, 'an opaque token from before is still active');
    t.match((await getJson(idp.userinfoUrl, opaque)).json, { email: 'alice@example.test' }, 'and still works at userinfo');
  });

  t.test('stop is idempotent', async () => {
    const other = await startIdp({ accounts: [] });
    await other.stop();
    await other.stop();
  });
});
