// Failed logins, counted per client IP and per target user in a sliding window. Every
// failure earns a growing delay before its reply (like Dovecot's auth_failure_delay, so
// guessing gets slow), and past a threshold the IP or user is blocked for a while (clients
// then get a temporary failure, and their credentials are not even tried). Pure: the
// clock is injected; memory is bounded by MAX_KEYS (oldest keys dropped first).

import { asciiLower } from './address.js';

export interface FailureLimits {
  readonly windowMs: number;
  readonly maxPerIp: number;
  readonly maxPerUser: number;
  readonly blockMs: number;
  readonly delayMs: number;
  readonly delayMaxMs: number;
}

export type Verdict = { readonly blocked: false } | { readonly blocked: true; readonly scope: 'ip' | 'user'; readonly retryAfterMs: number };

const MAX_KEYS = 100_000;

interface Entry { failures: number[]; blockedUntil: number }

export class FailureLimiter {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly limits: FailureLimits, private readonly now: () => number = Date.now) {}

  /** Before credentials are tried. */
  check(ip: string, user?: string): Verdict {
    const t = this.now();
    for (const [scope, key] of this.keys(ip, user)) {
      const e = this.entries.get(key);
      if (e && e.blockedUntil > t) return { blocked: true, scope, retryAfterMs: e.blockedUntil - t };
    }
    return { blocked: false };
  }

  /** After a failed login: the delay to wait before replying. */
  fail(ip: string, user?: string): { readonly delayMs: number; readonly blocked: boolean } {
    const t = this.now();
    let ipFailures = 0;
    let blocked = false;
    for (const [scope, key] of this.keys(ip, user)) {
      const e = this.touch(key, t);
      e.failures.push(t);
      const max = scope === 'ip' ? this.limits.maxPerIp : this.limits.maxPerUser;
      if (e.failures.length > max) e.failures.shift(); // bounded: only the last `max` matter
      if (e.failures.length >= max) {
        e.blockedUntil = t + this.limits.blockMs;
        blocked = true;
      }
      if (scope === 'ip') ipFailures = e.failures.length;
    }
    const delay = Math.min(this.limits.delayMaxMs, this.limits.delayMs * 2 ** Math.max(0, ipFailures - 1));
    return { delayMs: delay, blocked };
  }

  /** A successful login forgets the IP's failures (as Dovecot's auth penalty does); the user's stay. */
  succeed(ip: string): void {
    const e = this.entries.get(`ip:${ip}`);
    if (e && e.blockedUntil <= this.now()) this.entries.delete(`ip:${ip}`);
  }

  get size(): number {
    return this.entries.size;
  }

  private *keys(ip: string, user?: string): Generator<['ip' | 'user', string]> {
    yield ['ip', `ip:${ip}`];
    if (user) yield ['user', `user:${asciiLower(user)}`];
  }

  private touch(key: string, t: number): Entry {
    let e = this.entries.get(key);
    if (e) {
      this.entries.delete(key); // re-insert: Map order is our recency order
      const since = t - this.limits.windowMs;
      e.failures = e.failures.filter((x) => x > since);
    } else {
      e = { failures: [], blockedUntil: 0 };
    }
    this.entries.set(key, e);
    if (this.entries.size > MAX_KEYS) this.entries.delete(this.entries.keys().next().value!);
    return e;
  }
}
