// Adversary: "valid decisions are kept at most OAUTH2_CACHE_TTL_SECONDS and never past the
// token's exp" (docs/token-validation.md). In mode auth (userinfo, DMS's own and the default)
// the answer carries no exp, so a token is cached for the whole TTL whatever its lifetime:
// Keycloak and Authentik access tokens are JWTs whose exp is right there (Keycloak's default
// lifespan is 300 s, the cache TTL's default too), and an expired one goes on logging in,
// with no IdP call, for up to the TTL after its exp (up to a day with the longest TTL). A
// leaked token's window is its lifetime plus the TTL. The exp a JWT carries may only shorten
// the cache (unverified, it never makes a token valid): a JWT is cached no longer than it lives.
//
// The IdP here is Keycloak's userinfo in the way it matters: it accepts its own JWT access
// tokens (verified against the test IdP's JWKS, exp checked) and answers their claims;
// oidc-provider's own userinfo takes only opaque tokens.
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startIdp, DEFAULT_AUDIENCE } from '../harness/idp.js';
import { validation } from '../auth/helpers.js';

const idp = await startIdp();
t.teardown(() => idp.stop());
const alice = 'alice@example.test';

const keys = createRemoteJWKSet(new URL(idp.jwksUrl));
let calls = 0;
const userinfo = createServer((req, res) => {
  calls += 1;
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  jwtVerify(token, keys, { issuer: idp.issuer, audience: DEFAULT_AUDIENCE }).then(
    ({ payload }) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: payload.sub, email: payload.email ?? alice })),
    () => res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end(),
  );
});
await new Promise<void>((r) => userinfo.listen(0, '127.0.0.1', r));
t.teardown(() => new Promise<void>((r) => { userinfo.close(() => r()); userinfo.closeAllConnections(); }));
const userinfoUrl = `http://127.0.0.1:${(userinfo.address() as AddressInfo).port}/userinfo`;

t.test('mode auth with a JWT access token: cached no longer than its exp', async (t) => {
  const v = validation({ OAUTH2_INTROSPECTION_URL: userinfoUrl, OAUTH2_CACHE_TTL_SECONDS: '3600' });
  t.teardown(() => v.close());
  const token = await idp.mintJwt(alice, { expiresInSeconds: 2 });
  const first = await v.checker.check(token);
  t.match(first, { status: 'valid', user: alice, cached: false }, 'the IdP accepts the token');
  t.ok(first.cacheTtlSeconds <= 2, `kept ${first.cacheTtlSeconds} s for a token that lives 2 s more`);
  await new Promise((r) => setTimeout(r, 2500));
  const before = calls;
  const later = await v.checker.check(token);
  t.not(later.status === 'valid' && later.cached, true, `past its exp the token is not served from the cache (${later.status}${later.cached ? ', cached' : ''})`);
  t.equal(calls, before + 1, 'the IdP is asked again, and refuses it');
  t.match(later, { status: 'invalid' });
});

t.test('control: an opaque token (no exp to read) is still cached for the TTL', async (t) => {
  const v = validation({ OAUTH2_INTROSPECTION_URL: idp.userinfoUrl, OAUTH2_CACHE_TTL_SECONDS: '3600' });
  t.teardown(() => v.close());
  t.match(await v.checker.check(await idp.mintToken(alice)), { status: 'valid', cacheTtlSeconds: 3600 });
});
