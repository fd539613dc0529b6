// Mailboxes whose login through the proxy is refused at once, whatever the credential
// (token or password): users a SCIM client deactivated (src/scim). The SCIM store keeps
// the set; the Authenticator consults it before anything reaches the backend, and the IMAP
// and SMTP services end the sessions such a user already has open (onDisabled), as they do
// for a user the SCIM client deleted (removed()). Names compare as Dovecot compares them
// (ASCII case only: auth/address.ts).
//
// With a shared store (src/state/) the changes SCIM makes here are sent to the other
// replicas (onChange), and theirs are applied here with origin 'shared' (not sent back).
import { asciiLower } from './address.js';

/**
 * Where a change comes from: this replica's SCIM service, or another replica through the
 * shared store; 'replayed': a deletion announced while this replica was away from the store,
 * read back when it rejoined (its sessions end; what the deleting replica did in the shared
 * store, revoking app passwords, is not done again: some may be newer than the deletion).
 */
export type ChangeOrigin = 'local' | 'shared' | 'replayed';

export type DisabledChange =
  | { readonly op: 'disable'; readonly user: string; readonly reason: string }
  /** `refused`: the deletion took the account line away, and the user stays refused (see removed()). */
  | { readonly op: 'remove'; readonly user: string; readonly reason: string; readonly refused?: boolean }
  | { readonly op: 'enable'; readonly user: string };

export class DisabledUsers {
  private readonly users = new Map<string, string>();
  private readonly watchers = new Set<(user: string, reason: string, removed: boolean, origin: ChangeOrigin) => void>();
  private readonly changes = new Set<(change: DisabledChange) => void>();

  /** `reason` goes to the log line of a refused login. */
  disable(user: string, reason: string, origin: ChangeOrigin = 'local'): void {
    const key = asciiLower(user);
    const was = this.users.has(key);
    this.users.set(key, reason);
    if (origin === 'local') this.tell({ op: 'disable', user: key, reason });
    if (!was) for (const w of this.watchers) w(key, reason, false, origin);
  }

  /**
   * The SCIM client deleted `user`: the sessions they have open are ended like a disabled
   * user's. `refused`: the deletion took the DMS account away, so the user stays refused
   * (a token still valid must not log in, nor PROVISION_ON_LOGIN write the account back)
   * until SCIM creates them again; otherwise (an adopted account SCIM leaves in place) no
   * longer refused here: what stays of the account in DMS decides.
   */
  removed(user: string, reason: string, origin: ChangeOrigin = 'local', refused = false): void {
    const key = asciiLower(user);
    if (refused) this.users.set(key, reason);
    else this.users.delete(key);
    if (origin === 'local') this.tell(refused ? { op: 'remove', user: key, reason, refused } : { op: 'remove', user: key, reason });
    for (const w of this.watchers) w(key, reason, true, origin);
  }

  /** Calls `fn` with each user (lower case) as it becomes disabled or is removed (`removed`: deleted); returns the unsubscribe. */
  onDisabled(fn: (user: string, reason: string, removed: boolean, origin: ChangeOrigin) => void): () => void {
    this.watchers.add(fn);
    return () => { this.watchers.delete(fn); };
  }

  /** Calls `fn` with every change made here (origin 'local'); returns the unsubscribe. */
  onChange(fn: (change: DisabledChange) => void): () => void {
    this.changes.add(fn);
    return () => { this.changes.delete(fn); };
  }

  enable(user: string, origin: ChangeOrigin = 'local'): void {
    const key = asciiLower(user);
    this.users.delete(key);
    if (origin === 'local') this.tell({ op: 'enable', user: key });
  }

  /** Why `user` may not log in, or undefined when it may. */
  reason(user: string | undefined): string | undefined {
    return user === undefined ? undefined : this.users.get(asciiLower(user));
  }

  /** Every disabled user (lower case) and the reason. */
  entries(): ReadonlyMap<string, string> {
    return new Map(this.users);
  }

  get size(): number {
    return this.users.size;
  }

  private tell(change: DisabledChange): void {
    for (const fn of this.changes) fn(change);
  }
}
