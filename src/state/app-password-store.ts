// Where app passwords live (APP_PASSWORDS_FILE turns them on):
// - SHARED_STATE_URL empty: in the state file, as on one instance;
// - SHARED_STATE_URL set: in the shared store, so that every replica (and the CLI, and the
//   portal) sees one set. The file's passwords are copied into the store once (an id, once
//   imported, is never imported again: a revocation in the store sticks across restarts);
//   from then on the file is neither read nor written. The copy is tried at start-up and
//   again each time the store comes back until it has been done.
import type { AppPasswordStore } from '../auth/app-passwords.js';
import type { SharedStateConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { AppPasswordFile, readAppPasswordFile } from './app-password-file.js';
import { RedisAppPasswords } from './redis-app-passwords.js';

export async function openAppPasswords(file: string, shared: SharedStateConfig | null, log: Logger): Promise<AppPasswordStore | undefined> {
  if (!file) return undefined;
  if (!shared) return AppPasswordFile.open(file, log);
  // A file that cannot be read is a configuration error at start-up, as without a store.
  const records = await readAppPasswordFile(file);
  const store = RedisAppPasswords.open(shared);
  let done = records.length === 0;
  const importOnce = async (): Promise<void> => {
    if (done) return;
    try {
      const added = await store.import(records);
      done = true;
      log.info({ event: 'app-passwords-imported', file, added, inFile: records.length }, 'app passwords of the state file are in the shared store');
    } catch (err) {
      log.warn({ event: 'app-passwords-import-failed', file, error: (err as Error).message }, 'app passwords of the state file not copied to the shared store yet: tried again when it answers');
    }
  };
  store.client.on('ready', () => { void importOnce(); });
  return store;
}
