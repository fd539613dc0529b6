// Server-side portal sessions, bounded in time and in count; made only by a finished sign-in
// (sign-ins in progress live in the browser's sealed login cookie, login-seal.ts). The
// browser holds only a random id; we keep its SHA-256, so a memory dump (or the shared
// store) shows no usable cookie. A session ends at sign-out, after PORTAL_SESSION_SECONDS,
// after a quarter of that without a request, or when SCIM disables its user. This file is
// the in-process store; redis-sessions.ts keeps them in the shared store for replicas.
import { createHash, randomBytes } from 'node:crypto';
import { asciiLower } from '../auth/address.js';
import { newSealKey } from './login-seal.js';
import { PORTAL_MAX_SESSIONS, PORTAL_MAX_SESSIONS_PER_USER, PORTAL_SWEEP_INTERVAL_MS } from '../limits.js';

export interface PortalSession {
  readonly user: string;
  /** Sent in every form, compared on every POST (synchronizer token). */
  readonly csrf: string;
  readonly createdAt: number;
  lastSeenAt: number;
}

/** Where the portal keeps its sessions: this process (PortalSessions) or the shared store. */
export interface PortalSessionStore {
  start(user: string): string | Promise<string>;
  get(id: string | undefined): PortalSession | undefined | Promise<PortalSession | undefined>;
  remainingSeconds(s: PortalSession): number;
  end(id: string | undefined): void | Promise<void>;
  endUser(user: string): void | Promise<void>;
  /** The key that seals sign-ins in progress (login-seal.ts): the same on every replica sharing the sessions. */
  sealKey(): Buffer | Promise<Buffer>;
}

/** The shared store did not answer: the portal says 503, the mail ports go on. */
export class PortalStoreDown extends Error {
  override readonly name = 'PortalStoreDown';
}

export const randomId = (): string => randomBytes(32).toString('base64url');
export const sessionKey = (id: string): string => createHash('sha256').update(id).digest('base64url');
const key = sessionKey;

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
  /** Of the entries `fn` picks, all but the newest `n` go (the Map keeps insertion order). */
  keepNewest(fn: (v: V) => boolean, n: number): void {
    const picked: string[] = [];
    for (const [k, v] of this.map) if (fn(v)) picked.push(k);
    for (const k of picked.slice(0, Math.max(0, picked.length - n))) this.map.delete(k);
  }
  get size(): number { return this.map.size; }
}

export class PortalSessions implements PortalSessionStore {
  private readonly sessions = new Bounded<PortalSession>(PORTAL_MAX_SESSIONS);
  /** Made at start-up: a restart ends the sign-ins in progress, as it ends the sessions. */
  private readonly key = newSealKey();
  private sweptAt = -Infinity;

  constructor(private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  /** A new session for `user`; returns the cookie value. */
  start(user: string): string {
    const id = randomId();
    const at = this.now();
    this.sweep();
    const u = asciiLower(user);
    // The user's own oldest go first (one walk per sign-in, each of which took an IdP round trip).
    this.sessions.keepNewest((s) => s.user === u, PORTAL_MAX_SESSIONS_PER_USER - 1);
    this.sessions.set(id, { user: u, csrf: randomId(), createdAt: at, lastSeenAt: at });
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

  sealKey(): Buffer {
    return this.key;
  }

  get size(): { sessions: number } {
    return { sessions: this.sessions.size };
  }

  /** Expired entries go in one walk, at most every PORTAL_SWEEP_INTERVAL_MS: a burst of sign-ins costs no walk each. */
  private sweep(): void {
    const at = this.now();
    if (at - this.sweptAt < PORTAL_SWEEP_INTERVAL_MS) return;
    this.sweptAt = at;
    this.sessions.deleteWhere((s) => at - s.createdAt > this.ttlMs || at - s.lastSeenAt > this.ttlMs / 4);
  }
}
