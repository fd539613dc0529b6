// Local validation when the real IdP (oidc-provider) rotates its signing keys after the
// proxy's first JWKS fetch (issue 15): a token signed with the new key is never a bad
// credential before the proxy could look the key up. Inside OAUTH2_JWKS_COOLDOWN_SECONDS it
// is UNAVAILABLE (retry), or, when the cooldown ends within OAUTH2_TIMEOUT_MS, the login
// waits for one shared refetch and passes. A kid still unknown after a refetch that started
// after the token came in is a bad credential, and random kids never make more than one
// fetch per cooldown.
import t from 'tap';
import { startIdp } from '../harness/idp.js';
import { atClaims, foreignKey, modeEnv, validation } from './helpers.js';

const idp = await startIdp();
t.teardown(() => idp.stop());
const alice = 'alice@example.test';
// t.match takes a string pattern as a substring: 'valid' would also match 'invalid'.
const VALID = /^valid$/;
const bob = 'bob@example.test';

function local(cooldownSeconds: number, timeoutMs = 5000) {
  return validation(modeEnv(idp, 'local', {
    OAUTH2_JWKS_COOLDOWN_SECONDS: String(cooldownSeconds), OAUTH2_TIMEOUT_MS: String(timeoutMs), OAUTH2_NEGATIVE_CACHE_SECONDS: '0',
  }));
}

t.test('rotated right after the first fetch, the cooldown far from its end: UNAVAILABLE, no fetch', async (t) => {
  const v = local(60);
  t.teardown(() => v.close());
  t.match(await v.checker.check(await idp.mintJwt(alice)), { status: VALID }, 'first login fetches the JWKS');
  await idp.rotateKeys();
  const before = idp.counts.jwks;
  for (const alg of ['RS256', 'ES256'] as const) {
    const d = await v.checker.check(await idp.mintJwt(alice, { alg }));
    t.match(d, { status: 'unavailable', reason: /retry later/, cacheTtlSeconds: 0 }, `${alg} token with the new kid: retry, not a bad credential`);
    t.notOk(d.status === 'unavailable' && d.misconfigured, 'not reported as a misconfiguration');
  }
  t.equal(idp.counts.jwks, before, 'no JWKS fetch inside the cooldown');
  t.match(await v.checker.check(await idp.mintJwt(bob, { alg: 'ES256' })), { status: 'unavailable' }, 'still so for the next user');
});

t.test('rotated, the cooldown ends within OAUTH2_TIMEOUT_MS: logins wait for one shared refetch and pass', async (t) => {
  const v = local(2, 5000);
  t.teardown(() => v.close());
  const first = await idp.mintJwt(alice);
  const beforeFirstFetch = Date.now();
  t.match(await v.checker.check(first), { status: VALID });
  await idp.rotateKeys();
  const tokens = await Promise.all([idp.mintJwt(alice), idp.mintJwt(bob), idp.mintJwt(alice, { alg: 'ES256' })]);
  const before = idp.counts.jwks;
  const decisions = await Promise.all(tokens.map((tok) => v.checker.check(tok)));
  for (const d of decisions) t.match(d, { status: VALID, mode: 'local' }, 'new kid accepted after the refetch');
  t.equal(idp.counts.jwks, before + 1, 'one JWKS fetch for the three logins');
  // (a timer may fire a millisecond early against Date.now())
  t.ok(Date.now() - beforeFirstFetch >= 1990, 'not before the cooldown ended');
});

t.test('after the cooldown: one refetch, the new key is accepted at once', async (t) => {
  const v = local(1);
  t.teardown(() => v.close());
  t.match(await v.checker.check(await idp.mintJwt(alice)), { status: VALID });
  await idp.rotateKeys();
  await new Promise((r) => setTimeout(r, 1100));
  const before = idp.counts.jwks;
  t.match(await v.checker.check(await idp.mintJwt(alice)), { status: VALID });
  t.equal(idp.counts.jwks, before + 1, 'one refetch');
});

t.test('a kid still unknown after a fresh refetch is a bad credential; random kids share one fetch per cooldown', async (t) => {
  const v = local(2, 5000);
  t.teardown(() => v.close());
  t.match(await v.checker.check(await idp.mintJwt(alice)), { status: VALID });
  const before = idp.counts.jwks;
  const forged = await Promise.all(Array.from({ length: 5 }, async (_, i) => (await foreignKey(i % 2 ? 'RS256' : 'ES256')).sign(atClaims(idp, alice, { jti: `f${i}` }))));
  const decisions = await Promise.all(forged.map((tok) => v.checker.check(tok)));
  for (const d of decisions) t.match(d, { status: 'invalid', reason: /kid/ }, 'AUTHENTICATIONFAILED once the refetch did not bring the kid');
  t.equal(idp.counts.jwks, before + 1, 'five random kids, one fetch');
});
