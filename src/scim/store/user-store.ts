// The SCIM users, stored the way DMS stores accounts: postfix-accounts.cf (the mailbox),
// postfix-virtual.cf (extra addresses) and the proxy's state file, all in DMS_CONFIG_DIR.
// DMS's change detector picks the files up by itself.
//
// Every change runs under the config dir's one Serial (shared with accounts created on first
// login, PROVISION_ON_LOGIN): read the files fresh, compute the new text, write
// accounts, aliases, then state (each atomically). Lines the proxy did not write are never
// touched; a crash between two writes leaves at worst a line the state does not know,
// which is then treated as foreign (adopted, never removed): the safe side.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { DisabledUsers } from '../../auth/disabled-users.js';
import type { Logger } from '../../observability/logger.js';
import { mailAddress } from '../../state/dms/mail-address.js';
import { ACCOUNTS_FILE, accountAddresses, addOAuthAccount, removeAccount } from '../../state/dms/accounts-file.js';
import { DmsConfigDir } from '../../state/dms/config-dir.js';
import { loadState, saveState, STATE_FILE, type UserInput, type UserRecord } from './state-file.js';
import { VIRTUAL_FILE, addAlias, aliasLines, hasOwnLine, removeAlias } from '../../state/dms/virtual-file.js';

export type StoreErrorCode = 'ERR_SCIM_CONFLICT' | 'ERR_SCIM_NOT_FOUND' | 'ERR_SCIM_MUTABILITY' | 'ERR_SCIM_INVALID_VALUE';

/** A client's mistake, mapped to a SCIM error by the HTTP layer. */
export class StoreError extends Error {
  constructor(readonly code: StoreErrorCode, message: string) {
    super(message);
  }
}

export interface UserStoreOptions {
  /** DMS's config directory (docker-data/dms/config, /tmp/docker-mailserver in the container), or its one writer. */
  readonly dir: string | DmsConfigDir;
  /** Remove a deactivated user's account this long after deactivation; 0: never. */
  readonly removeDeactivatedAfterMs: number;
  readonly disabled: DisabledUsers;
  readonly log?: Logger;
  readonly now?: () => number;
}

const DISABLED_REASON = 'deactivated by the SCIM client (active=false)';
const DELETED_REASON = 'deleted by the SCIM client';

export class DmsUserStore {
  private readonly files: DmsConfigDir;
  private readonly now: () => number;
  private sweeper: NodeJS.Timeout | undefined;

  private constructor(
    private readonly opts: UserStoreOptions,
    private readonly records: Map<string, UserRecord>,
    /** Mailboxes deleted with their account line: refused until created again (state-file.ts). */
    private readonly deleted: Set<string>,
  ) {
    this.now = opts.now ?? Date.now;
    this.files = typeof opts.dir === 'string' ? new DmsConfigDir(opts.dir) : opts.dir;
    for (const m of deleted) opts.disabled.removed(m, DELETED_REASON, 'local', true);
    for (const r of records.values()) this.syncDisabled(r);
  }

  static async open(opts: UserStoreOptions): Promise<DmsUserStore> {
    const dir = typeof opts.dir === 'string' ? opts.dir : opts.dir.dir;
    const state = await loadState(join(dir, STATE_FILE));
    return new DmsUserStore(opts, new Map(state.users.map((u) => [u.id, u])), new Set(state.deleted));
  }

  get(id: string): UserRecord | undefined {
    return this.records.get(id);
  }

  /** Every user in creation order (a stable order for paging; the state file keeps it). */
  list(): UserRecord[] {
    return [...this.records.values()];
  }

  findByUserName(userName: string): UserRecord | undefined {
    const m = mailAddress(userName);
    return m === null ? undefined : this.list().find((r) => r.mailbox === m);
  }

  create(input: UserInput): Promise<UserRecord> {
    return this.files.run(async () => {
      const mailbox = mailboxOf(input.userName);
      if (this.findByUserName(mailbox)) throw new StoreError('ERR_SCIM_CONFLICT', `userName ${mailbox} exists already`);
      const at = new Date(this.now()).toISOString();
      const draft: UserRecord = {
        ...input, id: randomUUID(), mailbox, created: at, lastModified: at, ownsAccount: false, aliases: [],
        deactivatedAt: input.active ? undefined : at,
      };
      return (await this.commit(undefined, draft))!;
    });
  }

  /** Replaces a user's attributes with what `change` returns, given the current ones (PUT, PATCH). */
  update(id: string, change: (current: UserRecord) => UserInput): Promise<UserRecord> {
    return this.files.run(async () => {
      const prev = this.records.get(id);
      if (!prev) throw new StoreError('ERR_SCIM_NOT_FOUND', `no user ${id}`);
      const input = change(prev);
      const mailbox = mailboxOf(input.userName);
      if (mailbox !== prev.mailbox) {
        throw new StoreError('ERR_SCIM_MUTABILITY', `userName cannot change from ${prev.mailbox} to ${mailbox}: a mailbox is not renamed (delete the user and create it again)`);
      }
      const at = new Date(this.now()).toISOString();
      const deactivatedAt = input.active ? undefined : (prev.active ? at : prev.deactivatedAt ?? at);
      const draft: UserRecord = {
        ...input, id: prev.id, mailbox, created: prev.created, lastModified: at,
        ownsAccount: prev.ownsAccount, aliases: prev.aliases, accountRemoved: prev.accountRemoved, deactivatedAt,
      };
      return (await this.commit(prev, draft))!;
    });
  }

  delete(id: string): Promise<void> {
    return this.files.run(async () => {
      const prev = this.records.get(id);
      if (!prev) throw new StoreError('ERR_SCIM_NOT_FOUND', `no user ${id}`);
      await this.commit(prev, undefined);
    });
  }

  /** Removes the accounts whose deactivation grace is over; returns how many. */
  async sweep(): Promise<number> {
    let removed = 0;
    for (const r of this.list()) {
      if (r.accountRemoved || this.accountWanted(r)) continue;
      await this.files.run(async () => {
        const prev = this.records.get(r.id);
        if (!prev || prev.accountRemoved || this.accountWanted(prev)) return;
        await this.commit(prev, prev);
        removed++;
        this.opts.log?.info({ event: 'scim-account-removed', user: prev.mailbox, deactivatedAt: prev.deactivatedAt }, 'deactivation grace over: DMS account removed');
      });
    }
    return removed;
  }

  /** Sweeps now and then every `intervalMs` (never when grace removal is off). */
  startSweeper(intervalMs: number): void {
    if (this.opts.removeDeactivatedAfterMs <= 0 || this.sweeper) return;
    const run = () => void this.sweep().catch((err: Error) => this.opts.log?.error({ event: 'scim-sweep-failed', err: err.message }, 'grace removal failed'));
    this.sweeper = setInterval(run, intervalMs);
    this.sweeper.unref();
    run();
  }

  /** Stops the sweeper and waits for the change in progress, if any. */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    await this.files.run(() => Promise.resolve());
  }

  private accountWanted(r: UserRecord): boolean {
    const after = this.opts.removeDeactivatedAfterMs;
    if (r.active || after <= 0 || !r.deactivatedAt) return true;
    return Date.parse(r.deactivatedAt) + after > this.now();
  }

  /** Brings the files in line with `next` (undefined: the user is deleted). Runs under the serial. */
  private async commit(prev: UserRecord | undefined, next: UserRecord | undefined): Promise<UserRecord | undefined> {
    const files = this.files;
    const accountsBefore = await files.read(ACCOUNTS_FILE);
    const virtualBefore = await files.read(VIRTUAL_FILE);
    let accounts = accountsBefore;
    let virtual = virtualBefore;
    const mailbox = (next ?? prev)!.mailbox;
    const present = accountAddresses(accounts);
    let ownsAccount = prev?.ownsAccount ?? false;
    let accountRemoved = false;
    const ownAliases = new Set(prev?.aliases ?? []);
    const wanted = next !== undefined && this.accountWanted(next);

    if (wanted && !present.has(mailbox)) {
      // A mailbox that is someone's alias would shadow it in Postfix: refuse.
      if (aliasLines(virtual).has(mailbox) && !ownAliases.has(mailbox)) throw new StoreError('ERR_SCIM_CONFLICT', `${mailbox} is an alias in ${VIRTUAL_FILE}`);
      accounts = addOAuthAccount(accounts, mailbox);
      ownsAccount = true;
    } else if (!wanted) {
      if (ownsAccount && present.has(mailbox)) accounts = removeAccount(accounts, mailbox);
      ownsAccount = false;
      accountRemoved = next !== undefined;
    }

    const desired = wanted ? aliasesOf(next) : [];
    for (const a of [...ownAliases]) {
      if (desired.includes(a)) continue;
      virtual = removeAlias(virtual, a, mailbox);
      ownAliases.delete(a);
    }
    const sources = aliasLines(virtual);
    for (const a of desired) {
      if (ownAliases.has(a) || hasOwnLine(virtual, a, mailbox)) continue; // ours, or the same line written by someone else
      if (sources.has(a)) throw new StoreError('ERR_SCIM_CONFLICT', `email ${a} is an alias of another address in ${VIRTUAL_FILE}`);
      if (present.has(a)) throw new StoreError('ERR_SCIM_CONFLICT', `email ${a} is an account of its own in ${ACCOUNTS_FILE}`);
      virtual = addAlias(virtual, a, mailbox);
      ownAliases.add(a);
    }

    const record: UserRecord | undefined = next && withoutUndefined({ ...next, ownsAccount, aliases: [...ownAliases], accountRemoved: accountRemoved || undefined });
    const after = new Map(this.records);
    if (record) after.set(record.id, record);
    else after.delete(prev!.id);
    // Deleted with its account line gone: refused from now on, and never written back on a
    // login (PROVISION_ON_LOGIN), until SCIM creates the user again.
    const refused = !record && !accountAddresses(accounts).has(mailbox);
    const deleted = new Set(this.deleted);
    if (refused) deleted.add(mailbox);
    else deleted.delete(mailbox);
    // All or nothing: a write that fails (disk full) puts back the files written before it, so
    // no line is left that the state does not know (the client's retry would adopt it).
    const undo: Array<() => Promise<void>> = [];
    try {
      if (accounts !== accountsBefore) await files.write(ACCOUNTS_FILE, accounts).then(() => undo.push(() => files.write(ACCOUNTS_FILE, accountsBefore)));
      if (virtual !== virtualBefore) await files.write(VIRTUAL_FILE, virtual).then(() => undo.push(() => files.write(VIRTUAL_FILE, virtualBefore)));
      await saveState(files.path(STATE_FILE), after.values(), deleted);
    } catch (err) {
      for (const back of undo.reverse()) await back().catch((e: Error) => this.opts.log?.error({ event: 'scim-undo-failed', user: mailbox, err: e.message }, 'could not put a DMS file back after a failed change'));
      throw err;
    }
    if (record) this.records.set(record.id, record);
    else this.records.delete(prev!.id);
    if (refused) this.deleted.add(mailbox);
    else this.deleted.delete(mailbox);
    if (record) this.syncDisabled(record);
    else this.opts.disabled.removed(mailbox, DELETED_REASON, 'local', refused); // its open sessions end
    this.opts.log?.info({
      event: 'scim-change', user: mailbox, action: !prev ? 'create' : !next ? 'delete' : 'update',
      active: record?.active ?? null, accountsFile: accounts !== accountsBefore, virtualFile: virtual !== virtualBefore,
    }, 'SCIM user stored');
    return record;
  }

  private syncDisabled(r: UserRecord): void {
    if (r.active) this.opts.disabled.enable(r.mailbox);
    else this.opts.disabled.disable(r.mailbox, DISABLED_REASON);
  }
}

function mailboxOf(userName: string): string {
  const m = mailAddress(userName);
  if (!m) throw new StoreError('ERR_SCIM_INVALID_VALUE', 'userName must be the mailbox address (user@domain); map it to the email in the identity provider');
  return m;
}

/** The user's emails other than the mailbox: its aliases, canonical and without repeats. */
function aliasesOf(r: UserRecord): string[] {
  const out: string[] = [];
  for (const e of r.emails) {
    const a = mailAddress(e.value);
    if (!a) throw new StoreError('ERR_SCIM_INVALID_VALUE', `emails: ${JSON.stringify(e.value)} is not a mail address`);
    if (a !== r.mailbox && !out.includes(a)) out.push(a);
  }
  return out;
}

/** The record without keys whose value is undefined (the state file stays tidy). */
function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
