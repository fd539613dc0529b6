// The token decision with its cache: positive decisions for at most the token's remaining
// lifetime and at most the configured TTL, negative ones briefly, "unavailable" never (the
// next login asks again). Keyed by SHA-256 of the token; concurrent checks of one token share
// one IdP call. While the IdP is down, cached tokens keep working; new ones get unavailable.
import type { Logger } from '../observability/logger.js';
import { LruTtlCache, tokenKey } from './cache.js';
import type { IssuerDecision } from './issuers.js';
import { Singleflight } from './singleflight.js';
import { metrics } from '../observability/metrics.js';

export type TokenCheck = IssuerDecision & {
  /** Answered from the cache (no IdP call, no signature check). */
  readonly cached: boolean;
  /** How long this decision is (or would be) reused; 0 = not cached. */
  readonly cacheTtlSeconds: number;
};

export interface TokenCheckOptions {
  readonly ttlSeconds: number;
  readonly negativeSeconds: number;
  readonly maxEntries: number;
}

export class TokenChecker {
  private readonly cache: LruTtlCache<IssuerDecision>;
  private readonly flight = new Singleflight<TokenCheck>();

  constructor(
    private readonly router: { check(token: string): Promise<IssuerDecision> },
    private readonly opts: TokenCheckOptions,
    private readonly log: Logger | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.cache = new LruTtlCache(opts.maxEntries, now);
  }

  /** Decisions held now (readiness: logins can go on from the cache while the IdP is down). */
  get cachedEntries(): number {
    return this.cache.size;
  }

  async check(token: string): Promise<TokenCheck> {
    const key = tokenKey(token);
    const hit = this.cache.get(key);
    metrics.tokenCache.inc({ result: hit ? 'hit' : 'miss' });
    if (hit) return { ...hit.value, cached: true, cacheTtlSeconds: Math.max(0, Math.floor((hit.expiresAtMs - this.now()) / 1000)) };
    return this.flight.run(key, async () => {
      let d: IssuerDecision;
      try {
        d = scrub(await this.router.check(token), token);
      } catch (err) {
        // A bug must not look like a bad token: unavailable, and the stack in the log.
        this.log?.error({ event: 'token-check-error', err: { message: scrubText(String((err as Error)?.message), token) } }, 'token validation failed unexpectedly');
        d = { status: 'unavailable', reason: 'internal error while validating the token' };
      }
      const ttl = this.ttlFor(d);
      if (ttl > 0) this.cache.set(key, d, ttl * 1000);
      if (d.status === 'unavailable' && d.misconfigured) {
        this.log?.error({ event: 'idp-misconfigured', issuer: d.issuer ?? null, mode: d.mode ?? null, reason: d.reason }, 'identity provider configuration problem');
      }
      this.log?.debug({ event: 'token-checked', status: d.status, issuer: d.issuer ?? null, mode: d.mode ?? null, cacheTtlSeconds: ttl }, 'token checked');
      return { ...d, cached: false, cacheTtlSeconds: ttl };
    });
  }

  private ttlFor(d: IssuerDecision): number {
    if (d.status === 'unavailable') return 0;
    if (d.status === 'invalid') return this.opts.negativeSeconds;
    const left = d.expiresAt === undefined ? Infinity : Math.floor(d.expiresAt - this.now() / 1000);
    return Math.max(0, Math.min(this.opts.ttlSeconds, left));
  }

  get size(): number {
    return this.cache.size;
  }
}

/** Belt and braces: no reason text may carry the token, whatever an IdP or library echoed. */
function scrub(d: IssuerDecision, token: string): IssuerDecision {
  return d.status === 'valid' ? d : { ...d, reason: scrubText(d.reason, token) };
}

export function scrubText(text: string, token: string): string {
  return token.length >= 8 ? text.split(token).join('[token]') : text;
}
