// The SCIM service as the server sees it: the store is opened (and the disabled users
// known) before the IMAP/SMTP listeners start, so a deactivated user is refused from the
// first connection; the HTTP listener and the grace-removal sweeper start afterwards.
import { DisabledUsers } from '../auth/disabled-users.js';
import type { ScimConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { startScim, type ScimListener } from './server.js';
import { DmsUserStore } from './store/user-store.js';
import type { DmsConfigDir } from '../state/dms/config-dir.js';
import { SCIM_SWEEP_INTERVAL_MS } from '../limits.js';


export interface ScimService {
  readonly disabled: DisabledUsers;
  readonly store: DmsUserStore;
  start(): Promise<ScimListener>;
  close(): Promise<void>;
}

/** `files`: the one writer of DMS_CONFIG_DIR, shared with the accounts created on first login. */
export async function openScim(config: ScimConfig, log: Logger, files?: DmsConfigDir): Promise<ScimService> {
  const disabled = new DisabledUsers();
  const store = await DmsUserStore.open({
    dir: files ?? config.dmsConfigDir, removeDeactivatedAfterMs: config.removeDeactivatedAfterMs, disabled, log: log.child({ component: 'scim-store' }),
  });
  let listener: ScimListener | undefined;
  return {
    disabled,
    store,
    async start() {
      listener = await startScim({ listen: config.listen, token: config.token, store, log });
      store.startSweeper(SCIM_SWEEP_INTERVAL_MS);
      return listener;
    },
    async close() {
      await listener?.close();
      await store.close();
    },
  };
}
