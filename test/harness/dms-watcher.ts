// DMS's change detection, imitated: DMS runs check-for-changes.sh, which compares checksums of
// its config files every 2 s and, when postfix-accounts.cf changed, regenerates Dovecot's
// userdb and Postfix's mailbox map and reloads both (docker-mailserver
// target/scripts/check-for-changes.sh, `sleep 2` loop; helpers/accounts.sh _create_accounts).
// Here every `intervalMs` the backend imports the accounts file (Backend.syncDmsAccounts),
// so an account the proxy writes becomes loginable by itself, some seconds later, as in DMS.
import { readFile } from 'node:fs/promises';
import type { Backend } from './backend.js';

export interface DmsWatcher {
  /** Stops watching (as if DMS's changedetector died); waits for an import in progress. */
  stop(): Promise<void>;
}

/** DMS's default: check-for-changes.sh sleeps 2 s between checks. */
export const DMS_CHECK_INTERVAL_MS = 2000;

export function watchDmsAccounts(backend: Pick<Backend, 'syncDmsAccounts'>, accountsFile: string, intervalMs = DMS_CHECK_INTERVAL_MS): DmsWatcher {
  let stopped = false;
  let last = '';
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = async () => {
    const text = await readFile(accountsFile, 'utf8').catch(() => '');
    if (text !== last) { // DMS acts only on a changed checksum
      await backend.syncDmsAccounts(accountsFile);
      last = text;
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().catch(() => {}).finally(schedule);
    }, intervalMs);
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
