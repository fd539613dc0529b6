// A lock file (O_EXCL) for a state file that several processes change (the proxy and the
// admin CLI). A lock older than LOCK_STALE_MS is taken for its holder's and broken, and
// breaking is where two processes can go wrong: both find the same stale lock, one unlinks
// it and takes a new lock, then the other's unlink removes that new one and both think they
// hold the lock (one change lost, possibly a revocation). So a stale lock is broken only
// under a second O_EXCL lock (`.break`, held for a stat and an unlink), and only if the lock
// is still the very file found stale (same inode) and still stale: a breaker that comes
// second finds the new holder's lock and waits for it.
import { open, stat, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { LOCK_POLL_MS, LOCK_STALE_MS, LOCK_WAIT_MS } from '../limits.js';

/** How the lock removes a file (a test makes one process slow here). */
export interface LockIo { readonly unlink: (path: string) => Promise<void> }

/** Waits up to LOCK_WAIT_MS for the lock at `path`; returns the unlock. */
export async function lockFile(path: string, io: LockIo = { unlink }): Promise<() => Promise<void>> {
  const until = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    if (await create(path)) return () => io.unlink(path).catch(() => undefined);
    const s = await stat(path).catch(() => null);
    if (s && stale(s)) await breakStale(path, s.ino, io); // its holder died
    // EBUSY, as the file system would say it: the store's callers tell a busy file from a bug by it.
    else if (Date.now() > until) throw Object.assign(new Error(`${path}: held by another process`), { code: 'EBUSY' });
    else await sleep(LOCK_POLL_MS);
  }
}

/** True when this call created `path` (O_EXCL), false when it exists. */
async function create(path: string): Promise<boolean> {
  try {
    const fh = await open(path, 'wx', 0o600);
    await fh.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  }
}

async function breakStale(path: string, ino: number, io: LockIo): Promise<void> {
  const guard = `${path}.break`;
  if (!(await create(guard))) {
    // Another process is breaking it now. A stale guard means a breaker died within the few
    // milliseconds it holds it: that one goes, and the next round tries again.
    const g = await stat(guard).catch(() => null);
    if (g && stale(g)) await unlink(guard).catch(() => undefined);
    else await sleep(LOCK_POLL_MS);
    return;
  }
  try {
    const now = await stat(path).catch(() => null);
    if (now && now.ino === ino && stale(now)) await io.unlink(path).catch(() => undefined);
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

const stale = (s: Stats): boolean => Date.now() - s.mtimeMs > LOCK_STALE_MS;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
