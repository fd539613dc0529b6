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

export type ValidDecision = Extract<IssuerDecision, { status: 'valid' }>;

/**
 * Positive decisions the replicas share (issue 20, src/state/): keyed by tokenKey (a SHA-256
 * digest, never the token). `get` answers null when it has none or the store did not answer
 * in time; never throws.
 */
export interface SharedTokenDecisions {
  get(key: string): Promise<{ readonly decision: ValidDecision; readonly ttlMs: number } | null>;
  put(key: string, decision: ValidDecision, ttlMs: number): void;
}

export class TokenChecker {
  private readonly cache: LruTtlCache<IssuerDecision>;
  /**
   * Rejected decisions apart, at most a quarter as many: bad tokens sprayed from many
   * addresses only evict each other, never a valid decision that keeps its user logging in
   * while the IdP is down.
   */
  private readonly rejected: LruTtlCache<IssuerDecision>;
  private readonly flight = new Singleflight<TokenCheck>();

  constructor(
    private readonly router: { check(token: string): Promise<IssuerDecision> },
    private readonly opts: TokenCheckOptions,
    private readonly log: Logger | undefined,
    private readonly now: () => number = Date.now,
    private readonly shared?: SharedTokenDecisions,
  ) {
    this.cache = new LruTtlCache(opts.maxEntries, now);
    this.rejected = new LruTtlCache(Math.ceil(opts.maxEntries / 4), now);
  }

  /** Decisions held now (readiness: logins can go on from the cache while the IdP is down). */
  get cachedEntries(): number {
    return this.cache.size;
  }

  /** A cache hit answers at once, not as a promise: a session's login goes on in the same turn (issue 21). */
  check(token: string): TokenCheck | Promise<TokenCheck> {
    const key = tokenKey(token);
    const hit = this.cache.get(key) ?? this.rejected.get(key);
    metrics.countTokenCache(hit ? 'hit' : 'miss');
    // The added fields first: on Node 20 a spread followed by more fields defines each of them
    // on V8's slow path (~1 µs a field, measured), on every login (issue 21).
    if (hit) return { cached: true, cacheTtlSeconds: Math.max(0, Math.floor((hit.expiresAtMs - this.now()) / 1000)), ...hit.value };
    return this.flight.run(key, async () => {
      const other = await this.fromShared(key);
      if (other) return other;
      let d: IssuerDecision;
      try {
        d = scrub(await this.router.check(token), token);
      } catch (err) {
        // A bug must not look like a bad token: unavailable, and the stack in the log.
        this.log?.error({ event: 'token-check-error', err: { message: scrubText(String((err as Error)?.message), token) } }, 'token validation failed unexpectedly');
        d = { status: 'unavailable', reason: 'internal error while validating the token' };
      }
      const ttl = this.ttlFor(d);
      if (ttl > 0) (d.status === 'valid' ? this.cache : this.rejected).set(key, d, ttl * 1000);
      if (ttl > 0 && d.status === 'valid') this.shared?.put(key, { ...d, evidence: {} }, ttl * 1000);
      if (d.status === 'unavailable' && d.misconfigured) {
        this.log?.error({ event: 'idp-misconfigured', issuer: d.issuer ?? null, mode: d.mode ?? null, reason: d.reason }, 'identity provider configuration problem');
      }
      this.log?.debug({ event: 'token-checked', status: d.status, issuer: d.issuer ?? null, mode: d.mode ?? null, cacheTtlSeconds: ttl }, 'token checked');
      return { cached: false, cacheTtlSeconds: ttl, ...d };
    });
  }

  /** A positive decision another replica made, for no longer than it has left and than this replica would keep it. */
  private async fromShared(key: string): Promise<TokenCheck | null> {
    const hit = await this.shared?.get(key);
    if (!hit) return null;
    const ttlMs = Math.min(hit.ttlMs, this.ttlFor(hit.decision) * 1000);
    if (ttlMs <= 0) return null;
    metrics.countTokenCache('shared');
    this.cache.set(key, hit.decision, ttlMs);
    return { cached: true, cacheTtlSeconds: Math.floor(ttlMs / 1000), ...hit.decision };
  }

  private ttlFor(d: IssuerDecision): number {
    if (d.status === 'unavailable') return 0;
    if (d.status === 'invalid') return this.opts.negativeSeconds;
    const left = d.expiresAt === undefined ? Infinity : Math.floor(d.expiresAt - this.now() / 1000);
    return Math.max(0, Math.min(this.opts.ttlSeconds, left));
  }

  get size(): number {
    return this.cache.size + this.rejected.size;
  }
}

/** Belt and braces: no reason text may carry the token, whatever an IdP or library echoed. */
function scrub(d: IssuerDecision, token: string): IssuerDecision {
  return d.status === 'valid' ? d : { ...d, reason: scrubText(d.reason, token) };
}

export function scrubText(text: string, token: string): string {
  return token.length >= 8 ? text.split(token).join('[token]') : text;
}
