// The issuer's signing keys, fetched through our bounded IdP client (not jose's own fetch, so
// one timeout and size cap apply everywhere). An unknown `kid` triggers one refetch (key
// rotation), at most once per cooldown, so tokens with random kids cannot hammer the IdP.
// Keys older than MAX_AGE are refreshed before use, but kept if the IdP is down: cached keys
// keep local validation working through an IdP outage.
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { IdpHttpError, type IdpHttpClient } from './http.js';
import { jsonObject } from './validators/json.js';

const MAX_AGE_MS = 10 * 60_000; // jose's createRemoteJWKSet default cacheMaxAge

export class JwksStore {
  private keys: ReturnType<typeof createLocalJWKSet> | undefined;
  private fetchedAtMs = 0;
  private lastAttemptMs = -Infinity;
  private inflight: Promise<void> | undefined;

  constructor(
    private readonly url: () => Promise<string>,
    private readonly http: IdpHttpClient,
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A jose key resolver: throws IdpHttpError when the keys cannot be had (unavailable). */
  readonly resolve: JWTVerifyGetKey = async (header, token) => {
    if (!this.keys) await this.refresh();
    else if (this.now() - this.fetchedAtMs > MAX_AGE_MS) await this.refresh().catch(() => undefined);
    try {
      return await this.keys!(header, token);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw err;
      if (this.now() - this.lastAttemptMs < this.cooldownMs) throw err;
      await this.refresh();
      return this.keys!(header, token);
    }
  };

  private refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  private async load(): Promise<void> {
    this.lastAttemptMs = this.now();
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
    this.keys = createLocalJWKSet(doc as unknown as JSONWebKeySet);
    this.fetchedAtMs = this.now();
  }
}
