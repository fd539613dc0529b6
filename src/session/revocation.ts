// Ending the open sessions of a user disabled (active=false) or deleted over SCIM, for IMAP
// and SMTP alike: spliced sessions are indexed by user, and when DisabledUsers reports a user each of
// theirs is ended the protocol's clean way (IMAP: `* BYE` between two responses; SMTP: 421
// between transactions), cut after REVOKE_GRACE_MS at the latest. A login decided just
// before the deactivation and spliced just after it is ended as soon as it is tracked.
import type { DisabledUsers } from '../auth/disabled-users.js';
import type { Logger } from '../observability/logger.js';
import type { Protocol } from '../observability/metrics.js';
import { asciiLower } from '../auth/address.js';
import { REVOKE_GRACE_MS } from '../limits.js';

const untracked = (): void => undefined;

export interface Revocation<H> {
  /** Registers the spliced session `h` of `user` (case-insensitive); returns the function that forgets it. */
  track(user: string, h: H): () => void;
  /** Stops listening for deactivations (service close). */
  close(): void;
}

/** `end(h, deadline)` ends one session cleanly, cutting it at `deadline` (epoch ms). */
export function revocation<H>(disabled: DisabledUsers | undefined, log: Logger, proto: Protocol, end: (h: H, deadline: number) => void): Revocation<H> {
  // Without SCIM no user is ever disabled: no session is indexed (the default, and the
  // per-user index costs ~0.15 KiB per idle session).
  if (!disabled) return { track: () => untracked, close: untracked };
  const byUser = new Map<string, Set<H>>();
  const unwatch = disabled.onDisabled((user, reason) => {
    const open = [...(byUser.get(user) ?? [])];
    if (open.length === 0) return;
    log.warn({ event: 'sessions-revoked', proto, user, sessions: open.length, reason }, 'user disabled or deleted: closing their open sessions');
    for (const h of open) end(h, Date.now() + REVOKE_GRACE_MS);
  });
  return {
    track(user, h) {
      const key = asciiLower(user);
      let set = byUser.get(key);
      if (!set) byUser.set(key, (set = new Set()));
      set.add(h);
      if (disabled.reason(key)) end(h, Date.now() + REVOKE_GRACE_MS);
      return () => {
        set.delete(h);
        if (set.size === 0 && byUser.get(key) === set) byUser.delete(key);
      };
    },
    close: unwatch,
  };
}
