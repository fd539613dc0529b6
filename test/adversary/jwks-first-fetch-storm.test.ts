// Adversary: "an unknown kid refetches the JWKS once, at most every
// OAUTH2_JWKS_COOLDOWN_SECONDS, so random kids cannot make the proxy hammer the IdP"
// (docs/token-validation.md), and jwks-stale-refetch-storm holds stale keys to the cooldown.
// But before the first fetch has succeeded (the proxy started while the IdP was down, or its
// JWKS or discovery answers 503 at once), every login fetches again: each token an
// unauthenticated client sends (any JWT naming the issuer: every one a cache miss, none
// counted as a failure, since "unavailable" is not the client's fault) is one more request to
// the IdP that is already down, at the client's rate. With no keys, every kid is unknown:
// the same cooldown applies, and a login inside it is answered unavailable at once.
import t from 'tap';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { JwksStore } from '../../src/auth/jwks.js';
import { IdpHttpError, type IdpHttpClient, type HttpResponse } from '../../src/auth/http.js';
import { JwtValidator } from '../../src/auth/validators/jwt.js';

const ISSUER = 'https://idp.example.test';
const { privateKey, publicKey } = await generateKeyPair('RS256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };

let clock = 1_000_000;
let up = false;
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

const sign = (kid: string, sub: string) => new SignJWT({ email: `${sub}@example.test` })
  .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' }).setIssuer(ISSUER).setAudience('mail').setSubject(sub)
  .setIssuedAt(Math.floor(clock / 1000)).setExpirationTime(Math.floor(clock / 1000) + 3600).sign(privateKey);

t.test('no keys yet and the JWKS endpoint down: logins do not each fetch it', async (t) => {
  for (let i = 0; i < 20; i++) {
    const d = await validator.validate(await sign(`random-${i}`, `mallory${i}`));
    t.match(d, { status: 'unavailable' }, `login ${i}: unavailable, not a bad token`);
    clock += 100; // 2 s for all twenty: well inside the 30 s cooldown
  }
  t.ok(fetches <= 1, `20 logins inside one cooldown made ${fetches} JWKS fetches (at most 1 expected)`);
  clock += cooldownMs;
  up = true;
  t.match(await validator.validate(await sign('k1', 'alice')), { status: 'valid' }, 'after the cooldown the keys are fetched');
  t.ok(fetches <= 2, 'with one more fetch');
});
