// Ending open sessions, for every protocol alike, when the credential behind them is taken
// back: a user disabled (active=false) or deleted over SCIM loses every session; a revoked app
// password (issue 19/20 follow-up) loses the sessions that logged in with it, and a user's
// app passwords revoked all at once lose every app-password session of that user, while the
// user's token and DMS-password sessions stay. Spliced sessions are indexed by user, and
// each one to end is ended the protocol's clean way (IMAP: `* BYE` between two responses;
// SMTP: 421 between transactions), cut after REVOKE_GRACE_MS at the latest. A login decided
// just before the deactivation and spliced just after it is ended as soon as it is tracked;
// so is one whose app password was revoked while its backend login was in flight (the store
// is asked once more when the session is tracked: the revocation found no session to end).
import type { DisabledUsers } from '../auth/disabled-users.js';
import type { AppPasswordStore } from '../auth/app-passwords.js';
import type { Logger } from '../observability/logger.js';
import type { Protocol } from '../observability/metrics.js';
import { asciiLower } from '../auth/address.js';
import { REVOKE_GRACE_MS } from '../limits.js';

const untracked = (): void => undefined;

/** What can take a session's credential back. */
export interface RevocationSources {
  readonly disabled?: DisabledUsers;
  readonly appPasswords?: Pick<AppPasswordStore, 'onRevoked' | 'list'>;
}

export interface Revocation<H> {
  /** Registers the spliced session `h` of `user` (case-insensitive), logged in with app password `appPassword` (its id) if any; returns the function that forgets it. */
  track(user: string, h: H, appPassword?: string): () => void;
  /** Stops listening (service close). */
  close(): void;
}

/** Why a session is ended: its user disabled or deleted, or the app password it logged in with revoked. */
export type RevokeCause = 'disabled' | 'app-password';

/** `end(h, deadline, cause)` ends one session cleanly, cutting it at `deadline` (epoch ms). */
export function revocation<H>(sources: RevocationSources, log: Logger, proto: Protocol, end: (h: H, deadline: number, cause: RevokeCause) => void): Revocation<H> {
  const { disabled, appPasswords } = sources;
  // Without SCIM and app passwords nothing is ever taken back: no session is indexed (the
  // default, and the per-user index costs ~0.15 KiB per idle session).
  if (!disabled && !appPasswords) return { track: () => untracked, close: untracked };
  /** Per user, each session and the app-password id it logged in with ('' for none). */
  const byUser = new Map<string, Map<H, string>>();
  const endAll = (open: H[], cause: RevokeCause, fields: Record<string, unknown>, msg: string): void => {
    if (open.length === 0) return;
    log.warn({ ...fields, proto, sessions: open.length }, msg);
    for (const h of open) end(h, Date.now() + REVOKE_GRACE_MS, cause);
  };
  const unwatch = disabled?.onDisabled((user, reason) => {
    endAll([...(byUser.get(user)?.keys() ?? [])], 'disabled', { event: 'sessions-revoked', user, reason }, 'user disabled or deleted: closing their open sessions');
  });
  const unrevoked = appPasswords?.onRevoked((user, ids) => {
    const open = [...(byUser.get(user) ?? [])].filter(([, id]) => id !== '' && (ids === 'all' || ids.includes(id))).map(([h]) => h);
    endAll(open, 'app-password', { event: 'sessions-revoked', user, reason: 'app password revoked' }, 'app password revoked: closing the sessions that logged in with it');
  });
  return {
    track(user, h, appPassword) {
      const key = asciiLower(user);
      let set = byUser.get(key);
      if (!set) byUser.set(key, (set = new Map()));
      set.set(h, appPassword ?? '');
      if (disabled?.reason(key)) end(h, Date.now() + REVOKE_GRACE_MS, 'disabled');
      else if (appPassword && appPasswords) {
        // Indexed now, so a revocation from here on reaches the session through onRevoked;
        // one made since the login was decided shows as the id missing from the store. A
        // store that does not answer leaves the session be: it accepted the id a moment ago,
        // and the shared store re-reads the ids it listed when it is back (owners).
        void appPasswords.list(key).then((records) => {
          if (set.get(h) !== appPassword || records.some((r) => r.id === appPassword)) return;
          endAll([h], 'app-password', { event: 'sessions-revoked', user: key, reason: 'app password revoked during login' }, 'app password revoked while its login was in flight: closing the session');
        }, untracked);
      }
      return () => {
        set.delete(h);
        if (set.size === 0 && byUser.get(key) === set) byUser.delete(key);
      };
    },
    close: () => { unwatch?.(); unrevoked?.(); },
  };
}
