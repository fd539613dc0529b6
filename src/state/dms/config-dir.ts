// DMS's config directory (DMS_CONFIG_DIR) as the one writer in this process: the SCIM store
// and the accounts created on first login (PROVISION_ON_LOGIN) both edit postfix-accounts.cf,
// so every read-modify-write of the DMS files runs under this one Serial; two writers with
// their own queues would each write back a text without the other's line.
//
// DMS's change detector (check-for-changes.sh) notices the changed file and regenerates
// Dovecot's userdb and Postfix's maps from it: see docs/operations.md#accounts-on-first-login.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readBytes, writeAtomic } from '../atomic-file.js';
import { ACCOUNTS_FILE, accountAddresses, addOAuthAccount } from './accounts-file.js';
import { toBytes, toText } from './lines.js';
import { Serial } from './serial.js';
import { VIRTUAL_FILE, aliasLines } from './virtual-file.js';

/** What ensureAccount did: wrote the line, found one, left an alias's address alone, or was refused (why). */
export type EnsureAccount = 'written' | 'present' | 'alias' | { readonly refused: string };

export class DmsConfigDir {
  private readonly serial = new Serial();
  /** postfix-accounts.cf's addresses, as of the file's identity (inode, size, mtime) when read. */
  private known: { readonly stamp: string; readonly addresses: Set<string> } | undefined;

  constructor(readonly dir: string) {}

  /** Runs `task` after every change queued before it, and before any queued after it. */
  run<T>(task: () => Promise<T>): Promise<T> {
    return this.serial.run(task);
  }

  path(file: string): string {
    return join(this.dir, file);
  }

  /** A file's text (latin1, byte for byte; '' when it does not exist). Call under run(). */
  async read(file: string): Promise<string> {
    return toText(await readBytes(this.path(file)));
  }

  /** Replaces a file atomically (a reader sees the old or the new text, never half). Call under run(). */
  async write(file: string, text: string): Promise<void> {
    await writeAtomic(this.path(file), toBytes(text));
  }

  /**
   * Does postfix-accounts.cf have a line for `mailbox` (canonical: mailAddress)? Asked on
   * every token login with PROVISION_ON_LOGIN, so the file is read again only when its
   * inode, size or mtime changed (each writer, ours and DMS's, replaces it by rename).
   */
  async hasAccount(mailbox: string): Promise<boolean> {
    const path = this.path(ACCOUNTS_FILE);
    const st = await stat(path).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return null; throw err; });
    const stamp = st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'none';
    if (this.known?.stamp !== stamp) this.known = { stamp, addresses: accountAddresses(st ? toText(await readBytes(path)) : '') };
    return this.known.addresses.has(mailbox);
  }

  /**
   * Adds `mailbox` (a canonical address: mailAddress) to postfix-accounts.cf with an
   * unusable password, unless it has a line already, or is an alias in postfix-virtual.cf
   * (an account would shadow the alias in Postfix; SCIM refuses the same), or `refused()`
   * gives a reason: asked here, under the writer, so a SCIM change queued before this one counts.
   */
  ensureAccount(mailbox: string, refused: () => string | undefined = () => undefined): Promise<EnsureAccount> {
    return this.run(async () => {
      const why = refused();
      if (why !== undefined) return { refused: why };
      const text = await this.read(ACCOUNTS_FILE);
      if (accountAddresses(text).has(mailbox)) return 'present';
      if (aliasLines(await this.read(VIRTUAL_FILE)).has(mailbox)) return 'alias';
      await this.write(ACCOUNTS_FILE, addOAuthAccount(text, mailbox));
      return 'written';
    });
  }

  /** Waits for the change in progress, if any. */
  async settled(): Promise<void> {
    await this.run(() => Promise.resolve());
  }
}
