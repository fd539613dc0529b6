// Two processes find the same stale lock on a state file (its holder died) and both break it.
// The second breaker's unlink is held back (the one fault injected: a slow process) until the
// first has taken a new lock. It must not remove that lock: one holder at a time, so a change
// made under the lock (an app-password revocation, say) is never written over by the other.
import t from 'tap';
import { unlink } from 'node:fs/promises';
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockFile } from '../../src/state/file-lock.js';
import { LOCK_STALE_MS } from '../../src/limits.js';

const HOLD_BACK_MS = 1000;
const HOLD_MS = 150; // how long each holder keeps the lock (its read-modify-write)

t.test('two breakers of one stale lock: one holder at a time', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'o2mp-stale-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const lockPath = join(dir, 'app-passwords.json.lock');
  writeFileSync(lockPath, '');
  const old = (Date.now() - LOCK_STALE_MS - 5000) / 1000;
  utimesSync(lockPath, old, old); // left by a process that died

  // Each breaker's first unlink (its break) waits, bounded: the fast one until the slow one
  // has come to break too, the slow one until the lock file is a new one (someone holds it).
  const until = (cond: () => boolean) => async () => {
    const deadline = Date.now() + HOLD_BACK_MS;
    while (Date.now() < deadline && !cond()) await new Promise((r) => setTimeout(r, 5));
  };
  let slowBreaking = false;
  const breaker = (wait: () => Promise<void>, onEnter = () => {}) => {
    let first = true;
    return {
      unlink: async (p: string) => {
        if (first) {
          first = false;
          onEnter();
          await wait();
        }
        await unlink(p);
      },
    };
  };
  const fresh = () => (statSync(lockPath, { throwIfNoEntry: false })?.mtimeMs ?? 0) > Date.now() - LOCK_STALE_MS; // inode numbers are reused
  const slow = breaker(until(fresh), () => { slowBreaking = true; });
  const fast = breaker(until(() => slowBreaking));
  let holders = 0;
  let most = 0;
  const change = async (io: typeof slow) => {
    const unlock = await lockFile(lockPath, io);
    holders++;
    most = Math.max(most, holders);
    await new Promise((r) => setTimeout(r, HOLD_MS));
    holders--;
    await unlock();
  };
  await Promise.all([change(slow), change(fast)]);
  t.equal(most, 1, 'never two holders at once');
});
