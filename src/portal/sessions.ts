// Server-side portal sessions and sign-ins in progress, both bounded in time and in count.
// The browser holds only a random id; we keep its SHA-256, so a memory dump shows no usable
// cookie. A session ends at sign-out, after PORTAL_SESSION_SECONDS, after a quarter of that
// without a request, or when SCIM disables its user.
import { createHash, randomBytes } from 'node:crypto';
import { asciiLower } from '../auth/address.js';
import { PORTAL_LOGIN_TTL_MS, PORTAL_MAX_PENDING_LOGINS, PORTAL_MAX_SESSIONS, PORTAL_SWEEP_INTERVAL_MS } from '../limits.js';

export interface PortalSession {
  readonly user: string;
  /** Sent in every form, compared on every POST (synchronizer token). */
  readonly csrf: string;
  readonly createdAt: number;
  lastSeenAt: number;
}

/** What the callback needs to finish a sign-in begun in this browser. */
export interface PendingLogin {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly createdAt: number;
}

export const randomId = (): string => randomBytes(32).toString('base64url');
const key = (id: string): string => createHash('sha256').update(id).digest('base64url');

/** A Map that forgets its oldest entry past `max` and its entries older than their time. */
class Bounded<V extends { createdAt: number }> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  set(id: string, v: V): void {
    this.map.set(key(id), v);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
  get(id: string): V | undefined { return this.map.get(key(id)); }
  delete(id: string): void { this.map.delete(key(id)); }
  deleteWhere(fn: (v: V) => boolean): void {
    for (const [k, v] of this.map) if (fn(v)) this.map.delete(k);
  }
  get size(): number { return this.map.size; }
}

export class PortalSessions {
  private readonly sessions = new Bounded<PortalSession>(PORTAL_MAX_SESSIONS);
  private readonly pending = new Bounded<PendingLogin>(PORTAL_MAX_PENDING_LOGINS);
  private sweptAt = -Infinity;

  constructor(private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  /** A new session for `user`; returns the cookie value. */
  start(user: string): string {
    const id = randomId();
    const at = this.now();
    this.sweep();
    this.sessions.set(id, { user: asciiLower(user), csrf: randomId(), createdAt: at, lastSeenAt: at });
    return id;
  }

  /** The live session of a cookie value (and marks it seen), or undefined. */
  get(id: string | undefined): PortalSession | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const at = this.now();
    if (at - s.createdAt > this.ttlMs || at - s.lastSeenAt > this.ttlMs / 4) {
      this.sessions.delete(id);
      return undefined;
    }
    s.lastSeenAt = at;
    return s;
  }

  /** Seconds until the session's absolute end (the cookie's Max-Age). */
  remainingSeconds(s: PortalSession): number {
    return (s.createdAt + this.ttlMs - this.now()) / 1000;
  }

  end(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  /** Every session of `user` (SCIM deactivated or deleted them). */
  endUser(user: string): void {
    const u = asciiLower(user);
    this.sessions.deleteWhere((s) => s.user === u);
  }

  /** Remembers a sign-in begun; returns the id for the login cookie. */
  begin(login: Omit<PendingLogin, 'createdAt'>): string {
    const id = randomId();
    this.sweep();
    this.pending.set(id, { ...login, createdAt: this.now() });
    return id;
  }

  /** The sign-in of a login cookie, once: a replayed callback finds nothing. */
  take(id: string | undefined): PendingLogin | undefined {
    if (!id) return undefined;
    const p = this.pending.get(id);
    this.pending.delete(id);
    return p && this.now() - p.createdAt <= PORTAL_LOGIN_TTL_MS ? p : undefined;
  }

  get size(): { sessions: number; pending: number } {
    return { sessions: this.sessions.size, pending: this.pending.size };
  }

  /** Expired entries go in one walk, at most every PORTAL_SWEEP_INTERVAL_MS: a flood of sign-ins costs no walk each. */
  private sweep(): void {
    const at = this.now();
    if (at - this.sweptAt < PORTAL_SWEEP_INTERVAL_MS) return;
    this.sweptAt = at;
    this.sessions.deleteWhere((s) => at - s.createdAt > this.ttlMs || at - s.lastSeenAt > this.ttlMs / 4);
    this.pending.deleteWhere((p) => at - p.createdAt > PORTAL_LOGIN_TTL_MS);
  }
}
