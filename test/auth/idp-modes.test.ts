// Token validation against a real OpenID provider (oidc-provider in-process): every mode,
// every JWT refusal, introspection refusals, policy denials, the cache and the singleflight.
import t from 'tap';
import { createHmac } from 'node:crypto';
import { base64url, exportSPKI, importJWK } from 'jose';
import { startIdp, DEFAULT_AUDIENCE } from '../harness/idp.js';
import { atClaims, captureLog, foreignKey, modeEnv, startTokeninfo, validation } from './helpers.js';

const idp = await startIdp();
t.teardown(() => idp.stop());
idp.addAccount({ email: 'carol@example.test', emailVerified: false, groups: ['staff'], roles: [] });
const alice = 'alice@example.test';

t.test('each mode accepts a valid token', async (t) => {
  const cases: Array<[string, Record<string, string>, () => Promise<string>, string]> = [
    ['auth (userinfo)', modeEnv(idp, 'auth'), () => idp.mintToken(alice), 'auth'],
    ['post, client_secret_basic', modeEnv(idp, 'post'), () => idp.mintToken(alice), 'post'],
    ['post, client_secret_post', modeEnv(idp, 'post', { OAUTH2_CLIENT_AUTH: 'post' }), () => idp.mintToken(alice), 'post'],
    ['post, endpoint from discovery', modeEnv(idp, 'post', { OAUTH2_INTROSPECTION_URL: '', OAUTH2_ISSUER: idp.issuer }), () => idp.mintToken(alice), 'post'],
    ['local, RS256 JWT', modeEnv(idp, 'local'), () => idp.mintJwt(alice), 'local'],
    ['local, ES256 JWT, explicit JWKS URL', modeEnv(idp, 'local', { OAUTH2_JWKS_URL: idp.jwksUrl }), () => idp.mintJwt(alice, { alg: 'ES256' }), 'local'],
    ['auto, JWT verified locally', modeEnv(idp, 'auto'), () => idp.mintJwt(alice), 'local'],
    ['auto, opaque token introspected, its aud ours', modeEnv(idp, 'auto'), () => idp.mintToken(alice, { audience: DEFAULT_AUDIENCE }), 'post'],
  ];
  for (const [name, env, mint, mode] of cases) {
    const v = validation(env);
    const d = await v.checker.check(await mint());
    await v.close();
    t.match(d, { status: /^valid$/, user: alice, mode, cached: false }, name);
  }
});

t.test('auto: no token is accepted without proving the audience (issue 16)', async (t) => {
  const v = validation(modeEnv(idp, 'auto', { OAUTH2_NEGATIVE_CACHE_SECONDS: '0' }));
  t.teardown(() => v.close());
  const before = idp.counts.introspection;
  t.match(await v.checker.check(await idp.mintToken(alice)), { status: 'invalid', mode: 'post', reason: /audience \(none\) not accepted/ }, 'opaque, introspection names no aud');
  t.match(await v.checker.check(await idp.mintToken(alice, { audience: 'https://other.example' })), { status: 'invalid', reason: /audience "https:\/\/other\.example" not accepted/ }, 'opaque, another aud');
  t.equal(idp.counts.introspection, before + 2);
  const wrong = await idp.mintJwt(alice, { audience: 'https://other.example' });
  for (const form of [wrong, `${wrong}=`, `${wrong}.`, `${wrong}==`]) {
    t.match(await v.checker.check(form), { status: 'invalid', mode: 'local' }, `JWT with another aud, ${JSON.stringify(form.slice(-2))}: verified locally`);
  }
  t.equal(idp.counts.introspection, before + 2, 'no mangled JWT was sent to introspection');
});

t.test('get (Google tokeninfo style): strings normalised, audience checked', async (t) => {
  const ti = await startTokeninfo(idp);
  t.teardown(ti.stop);
  const env = { OAUTH2_INTROSPECTION_MODE: 'get', OAUTH2_INTROSPECTION_URL: ti.url, OAUTH2_REQUIRE_EMAIL_VERIFIED: '1' };
  const v = validation(env);
  t.teardown(() => v.close());
  const d = await v.checker.check(await idp.mintToken(alice));
  t.match(d, { status: /^valid$/, mode: 'get', user: alice, evidence: { email_verified: true, exp: Number } });
  t.ok(d.cacheTtlSeconds > 0 && d.cacheTtlSeconds <= 300);
  t.match(await v.checker.check('not-a-real-token'), { status: 'invalid', reason: /tokeninfo answered 400/ });
  const strict = validation({ ...env, OAUTH2_AUDIENCE: 'roundcube' });
  t.teardown(() => strict.close());
  t.match(await strict.checker.check(await idp.mintToken(alice)), { status: 'invalid', reason: /audience/ });
  const right = validation({ ...env, OAUTH2_AUDIENCE: 'test-mail-client' });
  t.teardown(() => right.close());
  t.match(await right.checker.check(await idp.mintToken(alice)), { status: /^valid$/ });
});

t.test('local mode refuses bad JWTs', async (t) => {
  const v = validation(modeEnv(idp, 'local', { OAUTH2_JWKS_COOLDOWN_SECONDS: '0', OAUTH2_NEGATIVE_CACHE_SECONDS: '0' }));
  t.teardown(() => v.close());
  const key = await foreignKey();
  idp.addJwk(key.jwk); // a key the IdP publishes, so each case below fails for its own reason
  const check = (tok: string) => v.checker.check(tok);

  t.match(await check(await key.sign(atClaims(idp, alice))), { status: /^valid$/ }, 'control: a good self-signed token passes');
  t.match(await check(await idp.mintJwt(alice, { audience: 'https://other.example' })), { status: 'invalid', reason: /claim aud/ }, 'wrong aud');
  t.match(await check(await key.sign(atClaims(idp, alice, { aud: undefined }))), { status: 'invalid', reason: /aud/ }, 'no aud');
  t.match(await check(await key.sign(atClaims(idp, alice, { iss: 'https://evil.example' }))), { status: 'invalid', reason: /issuer https:\/\/evil\.example is not configured/ }, 'wrong iss');
  t.match(await check(await key.sign(atClaims(idp, alice, { iss: `${idp.issuer}/` }))), { status: 'invalid' }, 'iss with a trailing slash is another issuer');
  const past = Math.floor(Date.now() / 1000) - 120;
  t.match(await check(await key.sign(atClaims(idp, alice, { exp: past }))), { status: 'invalid', reason: /expired/ }, 'expired');
  const soon = Math.floor(Date.now() / 1000) - 10;
  t.match(await check(await key.sign(atClaims(idp, alice, { exp: soon }))), { status: /^valid$/ }, 'expired 10 s ago: inside the 30 s leeway');
  t.match(await check(await key.sign(atClaims(idp, alice, { nbf: Math.floor(Date.now() / 1000) + 300 }))), { status: 'invalid', reason: /nbf/ }, 'not yet valid');
  t.match(await check(await key.sign(atClaims(idp, alice, { exp: undefined }))), { status: 'invalid', reason: /exp/ }, 'no exp');
  t.match(await check(await key.sign(atClaims(idp, alice), { typ: 'JWT' })), { status: 'invalid', reason: /typ JWT not accepted/ }, 'typ JWT refused by default');
  t.match(await check(await key.sign(atClaims(idp, alice), { typ: 'application/at+jwt' })), { status: /^valid$/ }, 'typ application/at+jwt is at+jwt');
  t.match(await check(await key.sign(atClaims(idp, alice, { typ: 'ID' }))), { status: 'invalid', reason: /payload typ ID/ }, 'Keycloak ID token');

  // alg none, hand-built (RFC 7519 §6): header, payload, empty signature.
  const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${base64url.encode(JSON.stringify(atClaims(idp, alice)))}.`;
  t.match(await check(none), { status: 'invalid' }, 'alg none');

  // HS256 keyed with the IdP's own RSA public key (PEM): the algorithm-confusion attack.
  const jwks = (await (await fetch(idp.jwksUrl)).json()) as { keys: Array<Record<string, unknown>> };
  const rsa = jwks.keys.find((k) => k.kty === 'RSA')!;
  const pem = await exportSPKI((await importJWK(rsa, 'RS256', { extractable: true })) as Parameters<typeof exportSPKI>[0]);
  const input = `${base64url.encode(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid: rsa.kid }))}.${base64url.encode(JSON.stringify(atClaims(idp, alice)))}`;
  const hs = `${input}.${base64url.encode(createHmac('sha256', pem).update(input).digest())}`;
  t.match(await check(hs), { status: 'invalid', reason: /alg not in the allow-list/ }, 'HS256 signed with the public key');
});

t.test('unknown kid: refused, then accepted once the IdP publishes the key (refresh)', async (t) => {
  const v = validation(modeEnv(idp, 'local', { OAUTH2_JWKS_COOLDOWN_SECONDS: '0', OAUTH2_NEGATIVE_CACHE_SECONDS: '0' }));
  t.teardown(() => v.close());
  t.match(await v.checker.check(await idp.mintJwt(alice)), { status: /^valid$/ });
  const key = await foreignKey('RS256');
  const before = idp.counts.jwks;
  t.match(await v.checker.check(await key.sign(atClaims(idp, alice))), { status: 'invalid', reason: /kid/ });
  t.equal(idp.counts.jwks, before + 1, 'one JWKS refetch for the unknown kid');
  idp.addJwk(key.jwk);
  t.match(await v.checker.check(await key.sign(atClaims(idp, alice, { jti: 'second' }))), { status: /^valid$/, user: alice }, 'rotated key accepted');
});

t.test('unknown kids within the cooldown: retry later (not yet known to be bad), no JWKS refetch', async (t) => {
  const v = validation(modeEnv(idp, 'local', { OAUTH2_JWKS_COOLDOWN_SECONDS: '60' }));
  t.teardown(() => v.close());
  t.match(await v.checker.check(await idp.mintJwt(alice)), { status: /^valid$/ });
  const before = idp.counts.jwks;
  for (let i = 0; i < 5; i++) {
    const key = await foreignKey();
    t.match(await v.checker.check(await key.sign(atClaims(idp, alice))), { status: 'unavailable', reason: /retry later/ });
  }
  t.equal(idp.counts.jwks, before, 'no JWKS fetch');
});

t.test('introspection: active false, revoked, wrong client secret', async (t) => {
  const log = captureLog();
  const v = validation(modeEnv(idp, 'post'), log.logger);
  t.teardown(() => v.close());
  t.match(await v.checker.check('garbage-token-value'), { status: 'invalid', reason: /not active/ });
  const tok = await idp.mintToken(alice);
  await idp.revoke(tok);
  t.match(await v.checker.check(tok), { status: 'invalid', reason: /not active/ }, 'revoked');

  const bad = validation(modeEnv(idp, 'post', { OAUTH2_CLIENT_SECRET: 'wrong-secret' }), log.logger);
  t.teardown(() => bad.close());
  const good = await idp.mintToken(alice);
  const d = await bad.checker.check(good);
  t.match(d, { status: 'unavailable', reason: /refused the proxy's client credentials \(HTTP 401\)/, cacheTtlSeconds: 0 });
  t.ok(log.lines().some((l) => l.event === 'idp-misconfigured' && l.level === 50), 'logged as an error');
  t.notOk(log.raw().includes(good) || log.raw().includes('wrong-secret'), 'neither token nor secret logged');
});

t.test('policy denials are rejections with the reason', async (t) => {
  const deny = async (env: Record<string, string>, email: string, reason: RegExp, mode: 'post' | 'local' = 'post') => {
    const v = validation(modeEnv(idp, mode, env));
    const tok = mode === 'post' ? await idp.mintToken(email) : await idp.mintJwt(email);
    const d = await v.checker.check(tok);
    await v.close();
    t.match(d, { status: 'invalid', reason }, String(reason));
  };
  await deny({ OAUTH2_REQUIRED_SCOPES: 'mail' }, alice, /lacks scope mail/);
  await deny({ OAUTH2_REQUIRED_GROUPS: 'admins' }, alice, /none of admins at groups/);
  await deny({ OAUTH2_REQUIRED_GROUPS: 'admin', OAUTH2_GROUPS_CLAIM: 'realm_access.roles' }, alice, /realm_access\.roles/, 'local');
  await deny({ OAUTH2_ALLOWED_DOMAINS: 'other.test' }, alice, /domain example\.test is not allowed/);
  await deny({ OAUTH2_REQUIRE_EMAIL_VERIFIED: '1' }, 'carol@example.test', /email_verified is false/);
  await deny({ OAUTH2_USERNAME_ATTRIBUTE: 'preferred_username' }, alice, /no claim preferred_username/);

  const ok = validation(modeEnv(idp, 'local', { OAUTH2_REQUIRED_SCOPES: 'openid email', OAUTH2_REQUIRED_GROUPS: 'mail other', OAUTH2_GROUPS_CLAIM: 'realm_access.roles', OAUTH2_ALLOWED_DOMAINS: 'example.test', OAUTH2_REQUIRE_EMAIL_VERIFIED: '1' }));
  t.teardown(() => ok.close());
  t.match(await ok.checker.check(await idp.mintJwt(alice)), {
    status: 'valid',
    evidence: { email: alice, scope: ['openid', 'email'], 'realm_access.roles': ['mail'], domain: 'example.test', email_verified: true, aud: DEFAULT_AUDIENCE },
  }, 'the claims that decided are reported');
});

t.test('cache: N logins with one token make one IdP call; concurrent first logins make one call', async (t) => {
  const v = validation(modeEnv(idp, 'post'));
  t.teardown(() => v.close());
  const tok = await idp.mintToken(alice);
  const before = idp.counts.introspection;
  for (let i = 0; i < 10; i++) t.match(await v.checker.check(tok), { status: /^valid$/, cached: i > 0 });
  t.equal(idp.counts.introspection, before + 1, 'sequential: one call');

  const tok2 = await idp.mintToken(alice);
  const before2 = idp.counts.introspection;
  const all = await Promise.all(Array.from({ length: 20 }, () => v.checker.check(tok2)));
  t.ok(all.every((d) => d.status === 'valid'));
  t.equal(idp.counts.introspection, before2 + 1, 'concurrent: one call');

  const garbage = 'not-a-token-at-all';
  const before3 = idp.counts.introspection;
  await v.checker.check(garbage);
  t.match(await v.checker.check(garbage), { status: 'invalid', cached: true }, 'negative result cached briefly');
  t.equal(idp.counts.introspection, before3 + 1);
});

t.test('positive cache never outlives the token', async (t) => {
  const v = validation(modeEnv(idp, 'post', { OAUTH2_CACHE_TTL_SECONDS: '3600' }));
  t.teardown(() => v.close());
  const d = await v.checker.check(await idp.mintToken(alice, { expiresInSeconds: 30 }));
  t.ok(d.cacheTtlSeconds <= 30 && d.cacheTtlSeconds >= 28, `ttl ${d.cacheTtlSeconds}`);
});

t.test('IdP stopped: cached tokens keep working, new ones are unavailable', async (t) => {
  for (const mode of ['auth', 'post', 'auto'] as const) {
    const other = await startIdp();
    const v = validation(modeEnv(other, mode));
    t.teardown(() => v.close());
    const aud = mode === 'auto' ? { audience: DEFAULT_AUDIENCE } : {};
    const first = await other.mintToken(alice, aud);
    const fresh = await other.mintToken('bob@example.test', aud);
    t.match(await v.checker.check(first), { status: /^valid$/, cached: false }, `${mode}: first login asks the IdP`);
    await other.stop();
    t.match(await v.checker.check(first), { status: /^valid$/, cached: true }, `${mode}: cached user still logs in`);
    t.match(await v.checker.check(fresh), { status: 'unavailable', cacheTtlSeconds: 0 }, `${mode}: new token is unavailable`);
  }
  // Local validation needs no IdP once the keys are in: a new JWT still verifies.
  const other = await startIdp();
  const v = validation(modeEnv(other, 'local'));
  t.teardown(() => v.close());
  const first = await other.mintJwt(alice);
  const fresh = await other.mintJwt('bob@example.test');
  t.match(await v.checker.check(first), { status: /^valid$/ });
  await other.stop();
  t.match(await v.checker.check(first), { status: /^valid$/, cached: true }, 'local: cached user');
  t.match(await v.checker.check(fresh), { status: /^valid$/, cached: false }, 'local: a new JWT verifies with the keys already fetched');
});

t.test('local mode with the IdP down before any key was fetched: unavailable, not rejected', async (t) => {
  const gone = await startIdp();
  const tok = await gone.mintJwt(alice);
  const v = validation(modeEnv(gone, 'local'));
  t.teardown(() => v.close());
  await gone.stop();
  t.match(await v.checker.check(tok), { status: 'unavailable', reason: /discovery/ });
});
