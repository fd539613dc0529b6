// The live sessions of one service: every open connection until it ends, indexed by user once
// logged in so that a user disabled over SCIM loses every session at once, and a revoked app
// password the sessions that logged in with it (revocation.ts).
// Shutdown drains and cuts through it; the sessions_active gauge counts it.
import type { Logger } from '../observability/logger.js';
import type { Protocol } from '../observability/metrics.js';
import { revocation, type Revocation, type RevocationSources, type RevokeCause } from './revocation.js';

const notTracked = (): void => undefined; // a session before login is not indexed by user

export class SessionRegistry<H> {
  private readonly sessions = new Map<H, () => void>();
  private readonly revoked: Revocation<H>;

  /** `revoke(h, deadline, cause)` ends a session whose credential was taken back the protocol's clean way, cut at `deadline`. */
  constructor(protocol: Protocol, sources: RevocationSources, log: Logger, revoke: (h: H, deadline: number, cause: RevokeCause) => void) {
    this.revoked = revocation<H>(sources, log, protocol, revoke);
  }

  get size(): number { return this.sessions.size; }

  /** Every live session (a copy: ending one while iterating is fine). */
  all(): H[] { return [...this.sessions.keys()]; }

  /** A new connection, before login. */
  add(h: H): void {
    this.sessions.set(h, notTracked);
  }

  /** Logged in as `user` (with app password `appPassword`, its id): from now on `handle` stands for `before` (which may be itself). */
  spliced(before: H, handle: H, user: string, appPassword?: string): void {
    if (before !== handle && !this.sessions.delete(before)) return; // ended meanwhile
    if (before === handle && !this.sessions.has(before)) return;
    this.sessions.set(handle, this.revoked.track(user, handle, appPassword));
  }

  ended(h: H): void {
    this.sessions.get(h)?.();
    this.sessions.delete(h);
  }

  /** Stops listening for deactivations and revocations (service close). */
  close(): void {
    this.revoked.close();
  }
}
