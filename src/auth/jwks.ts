// The issuer's signing keys, fetched through our bounded IdP client (not jose's own fetch, so
// one timeout and size cap apply everywhere). Keys older than MAX_AGE are refreshed before
// use (no sooner than a cooldown after the last attempt), but kept if the IdP is down: cached
// keys keep local validation working through an IdP outage.
//
// An unknown `kid` is a key the IdP may have published after our last fetch (rotation), or
// a forged token. It is only a bad credential once a fetch that started after the token
// came in has been answered without that key. Fetches for unknown kids are at most one per
// cooldown, so tokens with random kids cannot make the proxy hammer the IdP. Inside the
// cooldown a login waits for its end when that is at most `maxWaitMs` away (the fetch is
// then shared by every login waiting); otherwise it is answered "retry later"
// (JwksCoolingDownError: UNAVAILABLE, SMTP 454), never "bad credential": a rotated key must
// not cost a user a password prompt. (jose's createRemoteJWKSet refuses the token instead.)
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdpHttpError, type IdpHttpClient } from './http.js';
import { jsonObject } from './validators/json.js';
import { JWKS_MAX_AGE_MS } from '../limits.js';


/** An unknown kid while the JWKS may not be fetched again yet: a temporary failure. */
export class JwksCoolingDownError extends Error {
  readonly code = 'ERR_JWKS_COOLDOWN';
}

/** RFC 7518 §3.3 and §3.5: RS* and PS* keys are 2048 bits or larger (jose enforces it). */
const MIN_RSA_BITS = 2048;

/**
 * A key jose would refuse at verify time with a plain TypeError (an RSA modulus under
 * MIN_RSA_BITS) is the IdP's fault: unavailable and misconfigured, as an unusable member is,
 * never read as an internal error or a bad token.
 */
export function usableKey<K>(key: K, kid: unknown): K {
  const bits = (key as { algorithm?: { modulusLength?: unknown } } | null)?.algorithm?.modulusLength;
  if (typeof bits === 'number' && bits < MIN_RSA_BITS) {
    throw new IdpHttpError('ERR_IDP_DISCOVERY', `JWKS key for kid ${String(kid ?? '(none)').slice(0, 64)} is not usable: an RSA key of ${bits} bits (RFC 7518 §3.3: ${MIN_RSA_BITS} or more)`);
  }
  return key;
}

export interface JwksLimits {
  /** Least time between two fetches caused by an unknown kid (OAUTH2_JWKS_COOLDOWN_SECONDS). */
  readonly cooldownMs: number;
  /** Longest a login waits for the cooldown to end (OAUTH2_TIMEOUT_MS). */
  readonly maxWaitMs: number;
}

export class JwksStore {
  private keys: ReturnType<typeof createLocalJWKSet> | undefined;
  private fetchedAtMs = 0;
  private lastAttemptMs = -Infinity;
  /** Fetches started so far, and the one whose answer `keys` is. */
  private attempts = 0;
  private keysFrom = 0;
  private inflight: Promise<void> | undefined;
  /** Why the last fetch failed (cleared by one that succeeds). */
  private lastError: unknown;

  constructor(
    private readonly url: () => Promise<string>,
    private readonly http: IdpHttpClient,
    private readonly limits: JwksLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A jose key resolver: throws IdpHttpError when the keys cannot be had and
   * JwksCoolingDownError for a kid it cannot look up yet (both: unavailable).
   */
  readonly resolve: JWTVerifyGetKey = async (header, token) => {
    const seen = this.attempts; // a fetch numbered above this started after the token came in
    const waitUntil = this.now() + this.limits.maxWaitMs;
    if (!this.keys) await this.firstKeys(waitUntil);
    else if (this.stale()) await this.refresh().catch(() => undefined);
    for (;;) {
      try {
        return usableKey(await this.keys!(header, token), header.kid);
      } catch (err) {
        if (err instanceof IdpHttpError) throw err;
        // A member jose will not use as a public key (a private key published): the IdP's
        // fault, unavailable and misconfigured, never the token's.
        if (err instanceof errors.JWKSInvalid) throw new IdpHttpError('ERR_IDP_DISCOVERY', `JWKS key for kid ${String(header.kid ?? '(none)').slice(0, 64)} is not usable: ${err.message}`, { cause: err });
        if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY' || this.keysFrom > seen) throw err;
        await this.newerKeys(waitUntil);
      }
    }
  };

  /**
   * Keys past JWKS_MAX_AGE_MS are refreshed, but no sooner than a cooldown (at most the
   * maximum age) after the last attempt: while the JWKS endpoint fails, logins do not each
   * ask it again (the keys we have go on validating meanwhile).
   */
  private stale(): boolean {
    const now = this.now();
    return now - this.fetchedAtMs > JWKS_MAX_AGE_MS && now - this.lastAttemptMs >= Math.min(this.limits.cooldownMs, JWKS_MAX_AGE_MS);
  }

  /**
   * No keys yet: every kid is unknown, so fetches keep to the cooldown as an unknown kid's do
   * (an IdP down when the proxy started must not get one per login). Inside it a login waits
   * for its end when that is before `waitUntil`, else gets the last fetch's error (unavailable).
   */
  private async firstKeys(waitUntil: number): Promise<void> {
    if (this.inflight) return this.inflight;
    const readyAt = this.lastAttemptMs + this.limits.cooldownMs;
    if (readyAt > waitUntil && this.lastError) throw this.lastError;
    const waitMs = readyAt - this.now();
    if (waitMs > 0) await sleep(waitMs, undefined, { ref: false });
    if (!this.keys) await this.refresh();
  }

  /** Returns once a fetch has been answered (after the cooldown), or throws when that is past `waitUntil`. */
  private async newerKeys(waitUntil: number): Promise<void> {
    // A fetch in flight may bring the key; if it started before the token came in and does
    // not, the caller comes back here for one of its own.
    if (this.inflight) return this.inflight;
    const readyAt = this.lastAttemptMs + this.limits.cooldownMs;
    if (readyAt > waitUntil) {
      const inS = Math.ceil((readyAt - this.now()) / 1000);
      throw new JwksCoolingDownError(`JWT kid not in the issuer's JWKS, which is fetched again in ${inS} s at the earliest (OAUTH2_JWKS_COOLDOWN_SECONDS): retry later`);
    }
    const waitMs = readyAt - this.now();
    // Unref'd: a login waiting here must not keep a stopping process alive.
    if (waitMs > 0) return sleep(waitMs, undefined, { ref: false });
    return this.refresh();
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.load().then(
      () => { this.lastError = undefined; },
      (err: unknown) => { this.lastError = err; throw err; },
    ).finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  private async load(): Promise<void> {
    this.lastAttemptMs = this.now();
    const attempt = ++this.attempts;
    const url = await this.url();
    let res;
    try {
      res = await this.http.send(url, { method: 'GET', headers: { accept: 'application/json' } });
    } catch (err) {
      if (err instanceof IdpHttpError) throw new IdpHttpError(err.code, `JWKS: ${err.message}`, { cause: err });
      throw err;
    }
    if (res.status !== 200) throw new IdpHttpError('ERR_IDP_DISCOVERY', `JWKS ${url} answered ${res.status}`);
    const doc = jsonObject(res);
    if (!doc || !Array.isArray(doc.keys)) throw new IdpHttpError('ERR_IDP_DISCOVERY', `JWKS ${url} is not a JWK Set (RFC 7517 §5)`);
    try {
      this.keys = createLocalJWKSet(doc as unknown as JSONWebKeySet);
    } catch (err) {
      // jose's JWKSInvalid (a member that is no JSON object) would read as a bad token.
      throw new IdpHttpError('ERR_IDP_DISCOVERY', `JWKS ${url} is not a usable JWK Set: ${(err as Error).message}`, { cause: err });
    }
    this.fetchedAtMs = this.now();
    this.keysFrom = attempt;
  }
}
