// Failed logins, counted per client and per target user in a sliding window. Every failure
// earns a growing delay before its reply (like Dovecot's auth_failure_delay, so guessing gets
// slow), and past a threshold the client or user is blocked for a while (clients then get a
// temporary failure, and their credentials are not even tried). Pure: the clock is injected;
// memory is bounded by MAX_AUTH_FAIL_KEYS (oldest keys dropped first).
//
// A client is its IP, an IPv6 client its prefix (net/client-key.ts). Only passwords count
// against a user name: a bearer token cannot be guessed, and the name a client sends with a
// bad token is unverified, so counting it would let anyone block a mailbox.
import { clientKey } from '../net/client-key.js';

import { asciiLower } from './address.js';
import { MAX_AUTH_FAIL_KEYS } from '../limits.js';

export interface FailureLimits {
  readonly windowMs: number;
  readonly maxPerIp: number;
  readonly maxPerUser: number;
  readonly blockMs: number;
  readonly delayMs: number;
  readonly delayMaxMs: number;
  /** IPv6 clients are counted by this prefix length (128: per address). */
  readonly ipv6PrefixBits: number;
}

/** What a login attempt named: the user, and whether its secret was a password (guessable). */
export interface Attempt { readonly user?: string | undefined; readonly password: boolean }

export type Verdict = { readonly blocked: false } | { readonly blocked: true; readonly scope: 'ip' | 'user'; readonly retryAfterMs: number };

/** The delay before the reply to the n-th failure of a client in the window: doubled each time, capped. */
export function failureDelayMs(limits: FailureLimits, failures: number): number {
  return Math.min(limits.delayMaxMs, limits.delayMs * 2 ** Math.max(0, failures - 1));
}

/** The verdict of every client nobody has blocked: one object, not one per check. */
export const NOT_BLOCKED: Verdict = Object.freeze({ blocked: false });

/** One failure: when, and the user it named (lower case; '' for none), so a success forgets only its own. */
interface Failure { readonly at: number; readonly user: string }
interface Entry { failures: Failure[]; blockedUntil: number }

export class FailureLimiter {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly limits: FailureLimits, private readonly now: () => number = Date.now) {}

  /** Before credentials are tried. The user's block applies to password attempts only. */
  check(ip: string, attempt?: Attempt): Verdict {
    // Twice per login (at the door and before the credentials): nothing recorded, nothing to
    // look up; otherwise the keys without the generator keys() is (issue 21).
    if (this.entries.size === 0) return NOT_BLOCKED;
    const t = this.now();
    const byIp = this.entries.get(this.ipKey(ip));
    if (byIp && byIp.blockedUntil > t) return { blocked: true, scope: 'ip', retryAfterMs: byIp.blockedUntil - t };
    const userKey = this.userKey(attempt);
    const byUser = userKey === undefined ? undefined : this.entries.get(userKey);
    if (byUser && byUser.blockedUntil > t) return { blocked: true, scope: 'user', retryAfterMs: byUser.blockedUntil - t };
    return NOT_BLOCKED;
  }

  /** After a failed login: the delay to wait before replying. */
  fail(ip: string, attempt?: Attempt): { readonly delayMs: number; readonly blocked: boolean } {
    const t = this.now();
    const user = asciiLower(attempt?.user ?? '');
    let ipFailures = 0;
    let blocked = false;
    for (const [scope, key] of this.keys(ip, attempt)) {
      const e = this.touch(key, t);
      e.failures.push({ at: t, user });
      const max = scope === 'ip' ? this.limits.maxPerIp : this.limits.maxPerUser;
      if (e.failures.length > max) e.failures.shift(); // bounded: only the last `max` matter
      if (e.failures.length >= max) {
        e.blockedUntil = t + this.limits.blockMs;
        blocked = true;
      }
      if (scope === 'ip') ipFailures = e.failures.length;
    }
    return { delayMs: failureDelayMs(this.limits, ipFailures), blocked };
  }

  /**
   * A successful login as `user` forgets the client's failures in that user's name (a typo
   * then the right password); failures naming anyone else stay, and so does a block:
   * otherwise an attacker's own good login would reset the count of his guesses.
   */
  /** Returns how many failures it forgot. */
  succeed(ip: string, user: string): number {
    const key = this.ipKey(ip);
    const e = this.entries.get(key);
    if (!e || e.blockedUntil > this.now()) return 0;
    const name = asciiLower(user);
    // Only failures within the window are forgotten (and counted as such): older ones count
    // nowhere any more, and the shared store must not take them back (state/shared-guard.ts).
    const since = this.now() - this.limits.windowMs;
    e.failures = e.failures.filter((f) => f.at > since);
    const before = e.failures.length;
    e.failures = e.failures.filter((f) => f.user !== name);
    if (!e.failures.length) this.entries.delete(key);
    return before - e.failures.length;
  }

  /** Failures counted against the client within the window (0 when none). */
  recentFailures(ip: string): number {
    const e = this.entries.get(this.ipKey(ip));
    const since = this.now() - this.limits.windowMs;
    return e ? e.failures.filter((f) => f.at > since).length : 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The key a client is counted under: `ip:` and its address, or its IPv6 prefix. */
  ipKey(ip: string): string {
    return `ip:${clientKey(ip, this.limits.ipv6PrefixBits)}`;
  }

  /** The keys an attempt is counted under, with their scope. */
  *keys(ip: string, attempt?: Attempt): Generator<['ip' | 'user', string]> {
    yield ['ip', this.ipKey(ip)];
    const user = this.userKey(attempt);
    if (user !== undefined) yield ['user', user];
  }

  /** The key a password attempt is counted under in its user's name; none for a token. */
  userKey(attempt?: Attempt): string | undefined {
    return attempt?.password && attempt.user ? `user:${asciiLower(attempt.user)}` : undefined;
  }

  private touch(key: string, t: number): Entry {
    let e = this.entries.get(key);
    if (e) {
      this.entries.delete(key); // re-insert: Map order is our recency order
      const since = t - this.limits.windowMs;
      e.failures = e.failures.filter((f) => f.at > since);
    } else {
      e = { failures: [], blockedUntil: 0 };
    }
    this.entries.set(key, e);
    if (this.entries.size > MAX_AUTH_FAIL_KEYS) this.entries.delete(this.entries.keys().next().value!);
    return e;
  }
}
