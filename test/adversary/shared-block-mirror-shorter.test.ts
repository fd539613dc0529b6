// Event: two announcements of a block on the same client reach a replica, the longer first
// (replicas' clocks differ, or the rejoin re-read gives the store's score after a live event).
// The mirror is meant to keep the later end (Math.max), but it deleted the entry before
// reading it, so the shorter end replaced the longer: the door (session/admission.ts) and,
// with the store down, every login let the blocked IP in before its block was over.
import t from 'tap';
import { inProcessStore } from '../../src/state/in-process.js';
import { SharedLoginGuard } from '../../src/state/shared-guard.js';
import type { StoreListener } from '../../src/state/store.js';

t.test('a shorter block announced after a longer one does not shorten it', async (t) => {
  let now = 1_000_000;
  let listener: StoreListener | undefined;
  const store = { ...inProcessStore(), listen: (l: StoreListener) => { listener = l; return () => undefined; } };
  const limits = { windowMs: 60_000, maxPerIp: 3, maxPerUser: 10, blockMs: 600_000, delayMs: 0, delayMaxMs: 0, ipv6PrefixBits: 64 };
  const guard = new SharedLoginGuard(limits, store, () => now);
  listener!.block!('ip:192.0.2.9', now + 600_000);
  listener!.block!('ip:192.0.2.9', now + 60_000);
  now += 120_000;
  t.match(guard.blocked('192.0.2.9'), { blocked: true, scope: 'ip' }, 'still blocked until the later end');
  guard.close();
});
