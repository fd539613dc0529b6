// App passwords in a JSON state file. The proxy and the admin CLI (another process) both
// change it, so every change is read-modify-write of the file as it is now, under a lock file
// (file-lock.ts: O_EXCL; a stale one is broken safely), written atomically (atomic-file.ts).
// Logins read an in-memory copy, reloaded when the file changed (one stat per lookup, so a
// revocation by the CLI holds from the very next login). Once the proxy listens for
// revocations (onRevoked) the file is also stat'ed every APP_PASSWORD_WATCH_MS, so that ids
// the CLI removed end their live sessions within about that; every reload compares the ids
// before and after, whoever changed the file. Last-used data is
// kept in memory and merged into the file at most every LAST_USED_FLUSH_MS (and at close).
import { randomUUID } from 'node:crypto';
import { readFileSync, statSync, unwatchFile, watchFile } from 'node:fs';
import { asciiLower } from '../auth/address.js';
import {
  AppPasswordLimitError, AppPasswordsUnavailableError, cleanLabel, generateAppPassword, hashAppPassword, RevokedListeners,
  type AppPasswordRecord, type AppPasswordStore, type RevokedListener,
} from '../auth/app-passwords.js';
import type { Logger } from '../observability/logger.js';
import { readBytes, writeAtomic } from './atomic-file.js';
import { lockFile } from './file-lock.js';
import { APP_PASSWORD_WATCH_MS, LAST_USED_FLUSH_MS, MAX_APP_PASSWORDS_PER_USER } from '../limits.js';

export { AppPasswordLimitError } from '../auth/app-passwords.js';

const VERSION = 1;

type Usage = Pick<AppPasswordRecord, 'lastUsedAt' | 'lastAddress' | 'lastProtocol'>;

async function readRecords(path: string): Promise<Map<string, AppPasswordRecord>> {
  return parseRecords(path, await unusable(path, 'cannot read it', readBytes(path)));
}

/**
 * `io`, with a file-system error (a directory, a directory that does not exist, no permission)
 * turned into an AppPasswordFileError: a configuration error to the CLI (exit 78), never its
 * "nothing to revoke" (exit 1).
 */
async function unusable<T>(path: string, problem: string, io: Promise<T>): Promise<T> {
  try {
    return await io;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Its lock held by another process past LOCK_WAIT_MS: busy now, not misconfigured (the
    // CLI's exit 75, try again; the portal's 503).
    if (code === 'EBUSY') throw new AppPasswordsUnavailableError(`${path}: ${problem} (held by another process)`);
    throw typeof code === 'string' && /^E[A-Z]+$/.test(code) ? new AppPasswordFileError(path, problem, code) : err;
  }
}

/** The file's bytes; a file-system error (a directory, say) as an AppPasswordFileError. */
function readSync(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new AppPasswordFileError(path, 'cannot read it', (err as NodeJS.ErrnoException).code);
  }
}

/** Every record of a state file (none when it does not exist): the one-time import into the shared store. */
export async function readAppPasswordFile(path: string): Promise<AppPasswordRecord[]> {
  return [...(await readRecords(path)).values()];
}

/** The state file cannot be used as it is; the message names the file and what is wrong. */
export class AppPasswordFileError extends Error {
  readonly code = 'ERR_APP_PASSWORDS_FILE';
  /** `problem` names what is wrong without quoting the file (a parser's detail can show its bytes). */
  constructor(path: string, readonly problem: string, detail?: string) {
    super(`${path}: ${problem}${detail ? ` (${detail})` : ''}`);
  }
}

const isRecord = (r: unknown): r is AppPasswordRecord => {
  const o = r as Partial<Record<keyof AppPasswordRecord, unknown>> | null;
  return typeof o === 'object' && o !== null && typeof o.id === 'string' && o.id !== '' && typeof o.user === 'string'
    && typeof o.label === 'string' && typeof o.hash === 'string' && typeof o.createdAt === 'number';
};

/**
 * Every record of the file, checked: a file cut short, or edited by hand into something else,
 * is an error that says which file and where, not a JSON parser's message without a name (at
 * start-up) nor a record that breaks the portal's page or the CLI's list later.
 */
function parseRecords(path: string, bytes: Buffer | null): Map<string, AppPasswordRecord> {
  const records = new Map<string, AppPasswordRecord>();
  if (!bytes) return records;
  let data: { version?: unknown; passwords?: unknown } | null;
  try {
    data = JSON.parse(bytes.toString('utf8')) as typeof data;
  } catch (err) {
    throw new AppPasswordFileError(path, 'not valid JSON', (err as Error).message);
  }
  if (data?.version !== VERSION || !Array.isArray(data.passwords)) throw new AppPasswordFileError(path, `not an app-password state file of version ${VERSION}`);
  data.passwords.forEach((r: unknown, i) => {
    if (!isRecord(r)) throw new AppPasswordFileError(path, `entry ${i} is not an app password (id, user, label, hash, createdAt)`);
    records.set(r.id, r);
  });
  return records;
}

export class AppPasswordFile implements AppPasswordStore {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly usage = new Map<string, Usage>();
  private flusher: NodeJS.Timeout | undefined;
  /** What the file was when last read (mtime, size, inode), to see another process's change. */
  private seen = '';
  /** The same for a file found bad while running: logged once, not parsed again until it changes. */
  private badSeen = '';
  private loaded = false;
  private byUser = new Map<string, AppPasswordRecord[]>();
  private readonly revoked = new RevokedListeners();
  private watching = false;
  private readonly poll = (): void => {
    try {
      this.refresh();
    } catch {
      // unreadable now: the last good copy stays, the next poll tries again
    }
  };

  private constructor(private readonly path: string, private records: Map<string, AppPasswordRecord>, private readonly log?: Logger) {
    this.index();
  }

  /** The file as read now replaces the copy: the ids gone from it are revoked, whoever removed them. */
  private replace(records: Map<string, AppPasswordRecord>): void {
    const gone = new Map<string, string[]>();
    for (const r of this.records.values()) {
      if (records.has(r.id)) continue;
      const ids = gone.get(r.user);
      if (ids) ids.push(r.id);
      else gone.set(r.user, [r.id]);
    }
    this.records = records;
    this.index();
    for (const [user, ids] of gone) this.revoked.tell(user, ids);
  }

  /** Logins look a user up on every password: by user, not by scanning every record. */
  private index(): void {
    this.byUser = new Map();
    for (const r of this.records.values()) {
      const list = this.byUser.get(r.user);
      if (list) list.push(r);
      else this.byUser.set(r.user, [r]);
    }
  }

  /** `log`: where a file gone bad while running is reported (the CLI, which stops on it, has none). */
  static async open(path: string, log?: Logger): Promise<AppPasswordFile> {
    const store = new AppPasswordFile(path, new Map(), log);
    store.refresh();
    return store;
  }

  async list(user: string): Promise<readonly AppPasswordRecord[]> {
    this.refresh();
    const mine = this.byUser.get(asciiLower(user)) ?? [];
    return mine.map((r) => ({ ...r, ...this.usage.get(r.id) })).sort((a, b) => a.createdAt - b.createdAt);
  }

  create(user: string, label: string): Promise<{ readonly record: AppPasswordRecord; readonly secret: string }> {
    return this.change(async (records) => {
      const key = asciiLower(user);
      if ([...records.values()].filter((r) => r.user === key).length >= MAX_APP_PASSWORDS_PER_USER) {
        throw new AppPasswordLimitError(`at most ${MAX_APP_PASSWORDS_PER_USER} app passwords per user`);
      }
      const secret = generateAppPassword();
      const record: AppPasswordRecord = { id: randomUUID(), user: key, label: cleanLabel(label), createdAt: Date.now(), hash: await hashAppPassword(secret) };
      records.set(record.id, record);
      return { record, secret };
    });
  }

  revoke(user: string, id: string | 'all'): Promise<number> {
    return this.change(async (records) => {
      const key = asciiLower(user);
      const gone = [...records.values()].filter((r) => r.user === key && (id === 'all' || r.id === id));
      for (const r of gone) records.delete(r.id);
      return gone.length;
    });
  }

  used(id: string, at: number, address: string, protocol: string): void {
    this.usage.set(id, { lastUsedAt: at, lastAddress: address, lastProtocol: protocol });
    this.flusher ??= setTimeout(() => {
      this.flusher = undefined;
      void this.flush().catch(() => undefined); // kept in memory; the next flush tries again
    }, LAST_USED_FLUSH_MS);
    this.flusher.unref();
  }

  onRevoked(fn: RevokedListener): () => void {
    if (!this.watching) {
      this.watching = true;
      // watchFile stats the path (an atomic rename replaces the inode fs.watch would follow).
      watchFile(this.path, { interval: APP_PASSWORD_WATCH_MS, persistent: false }, this.poll);
    }
    return this.revoked.add(fn);
  }

  /** Writes pending last-used data and stops following the file. */
  async close(): Promise<void> {
    if (this.watching) unwatchFile(this.path, this.poll);
    this.watching = false;
    clearTimeout(this.flusher);
    this.flusher = undefined;
    await this.flush();
  }

  private flush(): Promise<void> {
    if (this.usage.size === 0) return Promise.resolve();
    return this.change(async () => undefined);
  }

  /** Rereads the file if another process changed it (a bad file keeps the last good copy, once read). */
  private refresh(): void {
    let s;
    try {
      s = statSync(this.path, { throwIfNoEntry: false });
    } catch (err) {
      if (!this.loaded) throw new AppPasswordFileError(this.path, 'cannot read it', (err as NodeJS.ErrnoException).code);
      return; // the last good copy stays (reported once the path reads again as a bad file)
    }
    const seen = s ? `${s.mtimeMs}:${s.size}:${s.ino}` : 'none';
    if (seen === this.seen || seen === this.badSeen) return;
    try {
      this.replace(parseRecords(this.path, s ? readSync(this.path) : null));
      this.seen = seen;
      this.badSeen = '';
      this.loaded = true;
    } catch (err) {
      if (!this.loaded) throw err; // at start-up a bad file is a configuration error
      // Fail closed would mean refusing every app password; the last good copy stays in
      // force instead, and the operator hears of it once per change of the bad file: what
      // the bad file changed (a revocation written by hand, say) does not hold until fixed.
      this.badSeen = seen;
      const e = err as Error & { problem?: string; code?: string };
      this.log?.error({ event: 'state-file-bad', file: this.path, problem: e.problem ?? e.code ?? 'unreadable', inForce: 'last good copy' },
        'app-password state file cannot be used: the last good copy stays in force, and no change in the bad file (a revocation included) holds until it is fixed');
    }
  }

  /** Read the file as it is now, change it, merge last-used data in, write it, all under the lock. */
  private change<T>(fn: (records: Map<string, AppPasswordRecord>) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      const unlock = await unusable(this.path, 'cannot lock it', lockFile(`${this.path}.lock`));
      try {
        const records = await readRecords(this.path);
        const result = await fn(records);
        for (const [id, u] of this.usage) {
          const r = records.get(id);
          if (r) records.set(id, { ...r, ...u });
        }
        // 0600: hashes only, but nobody else needs to read them.
        await unusable(this.path, 'cannot write it', writeAtomic(this.path, Buffer.from(`${JSON.stringify({ version: VERSION, passwords: [...records.values()] }, null, 1)}\n`), 0o600));
        this.usage.clear();
        this.replace(records);
        this.seen = ''; // our own write: read back on the next lookup
        return result;
      } finally {
        await unlock();
      }
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
