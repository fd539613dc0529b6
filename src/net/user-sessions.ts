// The spliced sessions of each user, so that they can be ended when the user is disabled
// (SCIM active=false) instead of lasting as long as the client keeps them open.
export class UserSessions<H> {
  private readonly byUser = new Map<string, Set<H>>();

  /** Registers `h` under `user` (case-insensitive); returns the function that removes it. */
  add(user: string, h: H): () => void {
    const key = user.toLowerCase();
    let set = this.byUser.get(key);
    if (!set) this.byUser.set(key, (set = new Set()));
    set.add(h);
    return () => {
      set.delete(h);
      if (set.size === 0 && this.byUser.get(key) === set) this.byUser.delete(key);
    };
  }

  /** The sessions of `user` open now. */
  of(user: string): H[] {
    return [...(this.byUser.get(user.toLowerCase()) ?? [])];
  }
}
