// A JwtValidator on a JwksStore whose JWKS endpoint is a counting fake that is up or down at
// the test's word, on a clock the test moves: for what logins make the store fetch while the
// IdP is down (test/adversary/jwks-*-storm).
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { JwksStore } from '../../src/auth/jwks.js';
import { IdpHttpError, type IdpHttpClient, type HttpResponse } from '../../src/auth/http.js';
import { JwtValidator } from '../../src/auth/validators/jwt.js';

export const JWKS_RIG_ISSUER = 'https://idp.example.test';

type SigningKey = Parameters<SignJWT['sign']>[0];

export interface JwksRig {
  readonly validator: JwtValidator;
  readonly cooldownMs: number;
  /** The key the JWKS publishes, under kid `k1`. */
  readonly privateKey: SigningKey;
  /** Now, in ms, for the store and the validator. */
  clock: number;
  /** Whether the JWKS endpoint answers (else a network error). */
  up: boolean;
  /** JWKS requests so far, answered or not. */
  fetches: number;
  /** An RS256 access token for `sub`, issued now for an hour, under `kid`, signed by `key`. */
  sign(key: SigningKey, kid: string, sub: string): Promise<string>;
}

export async function jwksRig(opts: { up: boolean }): Promise<JwksRig> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const cooldownMs = 30_000;
  const state = { clock: 1_000_000, up: opts.up, fetches: 0 };
  const http = {
    send: async (): Promise<HttpResponse> => {
      state.fetches += 1;
      if (!state.up) throw new IdpHttpError('ERR_IDP_NETWORK', 'IdP request failed: ECONNREFUSED');
      return { status: 200, body: Buffer.from(JSON.stringify({ keys: [jwk] })), contentType: 'application/json' };
    },
  } as unknown as IdpHttpClient;
  const now = () => state.clock;
  const jwks = new JwksStore(async () => `${JWKS_RIG_ISSUER}/jwks`, http, { cooldownMs, maxWaitMs: 5000 }, now);
  const validator = new JwtValidator(jwks,
    { issuer: JWKS_RIG_ISSUER, audiences: ['mail'], algorithms: ['RS256'], jwtTypes: [], clockToleranceSeconds: 30 }, now);
  const sign = (key: SigningKey, kid: string, sub: string): Promise<string> => new SignJWT({ email: `${sub}@example.test` })
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' }).setIssuer(JWKS_RIG_ISSUER).setAudience('mail').setSubject(sub)
    .setIssuedAt(Math.floor(state.clock / 1000)).setExpirationTime(Math.floor(state.clock / 1000) + 3600).sign(key);
  return Object.assign(state, { validator, cooldownMs, privateKey, sign });
}
