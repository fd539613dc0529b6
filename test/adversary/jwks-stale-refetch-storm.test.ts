// Adversary: local JWT validation promises "no IdP call per login" and that "random kids
// cannot make the proxy hammer the IdP" (docs/token-validation.md, src/auth/jwks.ts): an
// unknown kid refetches the JWKS at most once per OAUTH2_JWKS_COOLDOWN_SECONDS. But once the
// keys are older than JWKS_MAX_AGE_MS (10 min) and the JWKS endpoint fails (an IdP outage,
// a balancer answering 503 at once), every login refreshes them again before anything else,
// outside the cooldown: each token an unauthenticated client sends (random kid, or the known
// kid with a bad signature; every one a cache miss) is one more request to the IdP that is
// already down, at the client's rate. The stale refresh must keep to the cooldown too; the
// cached keys keep validating meanwhile.
import t from 'tap';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { JwksStore } from '../../src/auth/jwks.js';
import { IdpHttpError, type IdpHttpClient, type HttpResponse } from '../../src/auth/http.js';
import { JwtValidator } from '../../src/auth/validators/jwt.js';
import { JWKS_MAX_AGE_MS } from '../../src/limits.js';

const ISSUER = 'https://idp.example.test';
const { privateKey, publicKey } = await generateKeyPair('RS256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
const other = await generateKeyPair('RS256');

let clock = 1_000_000;
let up = true;
let fetches = 0;
const http = {
  send: async (): Promise<HttpResponse> => {
    fetches += 1;
    if (!up) throw new IdpHttpError('ERR_IDP_NETWORK', 'IdP request failed: ECONNREFUSED');
    return { status: 200, body: Buffer.from(JSON.stringify({ keys: [jwk] })), contentType: 'application/json' };
  },
} as unknown as IdpHttpClient;

const cooldownMs = 30_000;
const jwks = new JwksStore(async () => `${ISSUER}/jwks`, http, { cooldownMs, maxWaitMs: 5000 }, () => clock);
const validator = new JwtValidator(jwks, { issuer: ISSUER, audiences: ['mail'], algorithms: ['RS256'], jwtTypes: [], clockToleranceSeconds: 30 }, () => clock);

const sign = (key: Parameters<SignJWT['sign']>[0], kid: string, sub: string) => new SignJWT({ email: `${sub}@example.test` })
  .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' }).setIssuer(ISSUER).setAudience('mail').setSubject(sub)
  .setIssuedAt(Math.floor(clock / 1000)).setExpirationTime(Math.floor(clock / 1000) + 3600).sign(key);

t.test('with stale keys and the JWKS endpoint down, logins do not each fetch the JWKS', async (t) => {
  t.match(await validator.validate(await sign(privateKey, 'k1', 'alice')), { status: 'valid' }, 'first login fetches the keys');
  t.equal(fetches, 1);
  clock += JWKS_MAX_AGE_MS + 1000;
  up = false;
  const before = fetches;
  for (let i = 0; i < 20; i++) {
    // What anyone can send: random kids, and the known kid signed with another key.
    const forged = await sign(other.privateKey, i % 2 ? `random-${i}` : 'k1', `mallory${i}`);
    const d = await validator.validate(forged);
    t.not(d.status, 'valid', `forged token ${i} not accepted`);
    clock += 100; // 2 s for all twenty: well inside the 30 s cooldown
  }
  t.ok(fetches - before <= 1, `20 forged logins inside one cooldown made ${fetches - before} JWKS fetches (at most 1 expected)`);
  t.match(await validator.validate(await sign(privateKey, 'k1', 'bob')), { status: 'valid' }, 'the cached key still validates through the outage');
  t.ok(fetches - before <= 1, 'and a real login adds no fetch inside the cooldown either');
  clock += cooldownMs;
  up = true;
  t.match(await validator.validate(await sign(privateKey, 'k1', 'carol')), { status: 'valid' }, 'after the cooldown the keys are refreshed');
  t.equal(fetches, before + 2, 'one more fetch once the cooldown is over');
});
