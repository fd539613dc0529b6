// Mailboxes whose login through the proxy is refused at once, whatever the credential
// (token or password): users a SCIM client deactivated (src/scim). The SCIM store keeps
// the set; the Authenticator consults it before anything reaches the backend.
export class DisabledUsers {
  private readonly users = new Map<string, string>();

  /** `reason` goes to the log line of a refused login. */
  disable(user: string, reason: string): void {
    this.users.set(user.toLowerCase(), reason);
  }

  enable(user: string): void {
    this.users.delete(user.toLowerCase());
  }

  /** Why `user` may not log in, or undefined when it may. */
  reason(user: string | undefined): string | undefined {
    return user === undefined ? undefined : this.users.get(user.toLowerCase());
  }

  get size(): number {
    return this.users.size;
  }
}
