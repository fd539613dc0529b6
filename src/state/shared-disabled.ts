// The deactivated users of every replica kept alike through the shared store: a SCIM change
// here is written and announced (the other replicas end the user's sessions within
// milliseconds: session/revocation.ts listens to DisabledUsers), theirs are applied here.
// With the store down the last known set stays in force; changes made meanwhile are kept
// and written when it returns, then the store's set is re-read. A store that lost its data
// (restarted without persistence: a new epoch) is given back what this replica knows.
// Deletions (which leave no deactivation behind) announced while this replica was away are
// read back on rejoin, and the deleted users' sessions end here too.
import type { DisabledUsers } from '../auth/disabled-users.js';
import type { Logger } from '../observability/logger.js';
import type { SharedStore, UserChange } from './store.js';
import { REJOIN_REPLAY_MARGIN_MS } from '../limits.js';

const MISSED_DELETION = 'deleted by the SCIM client (announced while this replica was away from the shared store)';

export function shareDisabledUsers(disabled: DisabledUsers, store: SharedStore, log: Logger): () => void {
  if (!store.shared) return () => undefined;
  /** Local changes the store has not taken yet, by user (the last one wins). */
  const pending = new Map<string, UserChange>();
  const send = async (c: UserChange): Promise<boolean> => {
    const ok = await store.changeUser(c);
    if (ok) pending.delete(c.user);
    else pending.set(c.user, c);
    return ok;
  };
  const unChange = disabled.onChange((c) => { void send(c); });
  /** Since when (this replica's clock) deletions may have been missed: from the start until the first join, then from each loss of the store. */
  let lostAt: number | undefined = Date.now();
  const unlisten = store.listen({
    user: (c) => apply(disabled, c),
    joined: () => { void rejoin(); },
    left: () => { lostAt ??= Date.now(); },
  });

  async function rejoin(): Promise<void> {
    for (const c of [...pending.values()]) if (!(await send(c))) return;
    const shared = await store.readUsers();
    if (!shared) return;
    const local = disabled.entries();
    if (shared.sameData) {
      // The store kept its data: it is the truth (an enable made on another replica counts).
      for (const user of local.keys()) if (!shared.users.has(user)) disabled.enable(user, 'shared');
    } else {
      const missing = new Map([...local].filter(([user]) => !shared.users.has(user)));
      if (missing.size) log.info({ event: 'shared-state-restored', users: missing.size }, 'shared store has a new data set: giving back the deactivations this replica knows');
      await store.addUsers(missing);
    }
    if (lostAt !== undefined) {
      // A deletion leaves no deactivation behind: the users deleted while this replica was
      // away are read back, and their sessions here end as if the deletion had been heard.
      const removed = await store.readRemoved(lostAt - REJOIN_REPLAY_MARGIN_MS);
      if (!removed) return;
      lostAt = undefined;
      for (const user of removed) disabled.removed(user, shared.users.get(user) ?? MISSED_DELETION, 'replayed', shared.users.has(user));
    }
    for (const [user, reason] of shared.users) if (disabled.reason(user) !== reason) disabled.disable(user, reason, 'shared');
  }

  return () => { unChange(); unlisten(); };
}

function apply(disabled: DisabledUsers, c: UserChange): void {
  if (c.op === 'disable') disabled.disable(c.user, c.reason, 'shared');
  else if (c.op === 'remove') disabled.removed(c.user, c.reason, 'shared', c.refused === true);
  else disabled.enable(c.user, 'shared');
}
