// Adversary: RFC 7517 §4.5 makes distinct kids a SHOULD, not a MUST, and IdPs in the wild
// publish two keys under one kid (the same key twice, with and without x5c; a new key under
// the old kid during a rotation; jose issue 392, jwcrypto PR 268). jose's local key set then
// throws JWKSMultipleMatchingKeys and leaves trying the candidates to the caller (its
// documented pattern); the proxy does not, so every token the IdP signs under that kid is a
// bad credential: AUTHENTICATIONFAILED for every user, an auth-failed line for Fail2Ban and a
// failure against every client address, logged as "JWT has no kid" for a JWT that has one.
// Each key of the issuer's set that matches must be tried; a forged signature still fails.
import t from 'tap';
import { exportJWK, generateKeyPair } from 'jose';
import { startIdp } from '../harness/idp.js';
import { atClaims, foreignKey, modeEnv, validation } from '../auth/helpers.js';

const idp = await startIdp();
t.teardown(() => idp.stop());
const alice = 'alice@example.test';

const own = (await (await fetch(idp.jwksUrl)).json()) as { keys: Array<Record<string, unknown>> };
const rsa = own.keys.find((k) => k.kty === 'RSA')!;
// Another RSA key the IdP publishes under the kid of its own signing key.
const twin = await generateKeyPair('RS256', { extractable: true });
idp.addJwk({ ...(await exportJWK(twin.publicKey)), kid: rsa.kid, alg: 'RS256', use: 'sig' });

t.test('a JWKS with two keys under one kid: the IdP-signed token is valid, a forged one is not', async (t) => {
  const v = validation(modeEnv(idp, 'local', { OAUTH2_JWKS_COOLDOWN_SECONDS: '0', OAUTH2_NEGATIVE_CACHE_SECONDS: '0' }));
  t.teardown(() => v.close());
  const good = await idp.mintJwt(alice, { alg: 'RS256' });
  t.match(await v.checker.check(good), { status: 'valid', user: alice }, 'the IdP signed it with one of the two keys named by its kid');

  // The same kid, signed by a key that is not in the set: each candidate is tried, none verifies.
  const forger = await foreignKey('RS256');
  const forged = await forger.sign(atClaims(idp, 'bob@example.test'), { kid: rsa.kid });
  t.match(await v.checker.check(forged), { status: 'invalid', reason: /signature/ }, 'a forged signature under that kid is still refused');
});
