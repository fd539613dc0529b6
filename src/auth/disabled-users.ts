// Mailboxes whose login through the proxy is refused at once, whatever the credential
// (token or password): users a SCIM client deactivated (src/scim). The SCIM store keeps
// the set; the Authenticator consults it before anything reaches the backend, and the IMAP
// and SMTP services end the sessions such a user already has open (onDisabled), as they do
// for a user the SCIM client deleted (removed()). Names compare as Dovecot compares them
// (ASCII case only: auth/address.ts).
import { asciiLower } from './address.js';
export class DisabledUsers {
  private readonly users = new Map<string, string>();
  private readonly watchers = new Set<(user: string, reason: string) => void>();

  /** `reason` goes to the log line of a refused login. */
  disable(user: string, reason: string): void {
    const key = asciiLower(user);
    const was = this.users.has(key);
    this.users.set(key, reason);
    if (!was) for (const w of this.watchers) w(key, reason);
  }

  /**
   * The SCIM client deleted `user`: no longer refused here (what stays of the account in DMS
   * decides), but the sessions they have open are ended like a disabled user's.
   */
  removed(user: string, reason: string): void {
    const key = asciiLower(user);
    this.users.delete(key);
    for (const w of this.watchers) w(key, reason);
  }

  /** Calls `fn` with each user (lower case) as it becomes disabled or is removed; returns the unsubscribe. */
  onDisabled(fn: (user: string, reason: string) => void): () => void {
    this.watchers.add(fn);
    return () => { this.watchers.delete(fn); };
  }

  enable(user: string): void {
    this.users.delete(asciiLower(user));
  }

  /** Why `user` may not log in, or undefined when it may. */
  reason(user: string | undefined): string | undefined {
    return user === undefined ? undefined : this.users.get(asciiLower(user));
  }

  get size(): number {
    return this.users.size;
  }
}
