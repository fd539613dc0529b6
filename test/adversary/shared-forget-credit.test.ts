// Attack: a client that owns one account banks "forgiven" failures in the shared store and
// spends them guessing other users' passwords across the replicas. A successful login takes
// back, in the store, as many IP failures as the replica forgot locally (a typo, then the
// right password). But the replica forgot failures the store no longer counted: older than
// the window (a local entry is only pruned at the client's next failure), or counted before
// the store restarted without persistence (its data gone), or never counted at all (the store
// was down: the replica counted alone), so other failures are taken back. rate-limiter-flexible's reward()
// on a counter that is gone creates one at -n for a fresh window, so the store then blocks
// the IP only after max + n failures in total: with each replica's own limit at max, the
// shared limit (AUTH_FAIL_MAX_PER_IP across all replicas) no longer holds, and the client
// can seed credit on every replica. Why it matters: the shared count is the only thing that
// stops password guessing spread over replicas.
import t from 'tap';
import { startRedis } from '../harness/redis.js';
import { eventually } from '../harness/proxy.js';
import { redisStore } from '../../src/state/redis-store.js';
import { SharedLoginGuard } from '../../src/state/shared-guard.js';
import type { FailureLimits } from '../../src/auth/failure-limiter.js';
import { createLogger } from '../../src/observability/logger.js';

const log = createLogger('silent');
const redis = await startRedis();
t.teardown(() => redis.stop());

function replica(limits: FailureLimits) {
  const store = redisStore({ url: redis.url, timeoutMs: 500 }, limits, log);
  const guard = new SharedLoginGuard(limits, store);
  t.teardown(async () => { guard.close(); await store.close(); });
  return { store, guard };
}

const base = { maxPerIp: 4, maxPerUser: 100, blockMs: 60_000, delayMs: 0, delayMaxMs: 0, ipv6PrefixBits: 64 };
const own = { user: 'mallory@example.test', password: true };

/** Guesses at other users' passwords, alternating replicas: failures made before a check refuses. */
async function guessesUntilBlocked(replicas: readonly { guard: SharedLoginGuard }[], ip: string): Promise<number> {
  for (let n = 0; n < 20; n++) {
    const r = replicas[n % replicas.length]!;
    const attempt = { user: `victim${n}@example.test`, password: true };
    if ((await r.guard.check(ip, attempt)).blocked) return n;
    await r.guard.failed(ip, attempt);
  }
  return 20;
}

t.test('failures older than the window, forgiven by a success, are no credit in the store', async (t) => {
  const limits = { ...base, windowMs: 1000 };
  const a = replica(limits);
  const b = replica(limits);
  await eventually(() => a.store.status().up && b.store.status().up, 5000, 'both joined');
  const ip = '192.0.2.41';
  for (let i = 0; i < 3; i++) await a.guard.failed(ip, own); // own typos, counted on a and in the store
  await new Promise((r) => setTimeout(r, 1500)); // the window passes: the store's counter is gone
  a.guard.succeeded(ip, own.user);
  await new Promise((r) => setTimeout(r, 200)); // the store's reward (not awaited by succeeded)
  const n = await guessesUntilBlocked([a, b], ip);
  t.ok(n <= limits.maxPerIp, `blocked after ${n} guesses spread over two replicas (limit ${limits.maxPerIp} in all)`);
});

t.test('failures counted before the store lost its data, forgiven after, are no credit in the new store', async (t) => {
  const limits = { ...base, windowMs: 60_000 };
  const a = replica(limits);
  const b = replica(limits);
  await eventually(() => a.store.status().up && b.store.status().up, 5000, 'both joined');
  const ip = '192.0.2.42';
  for (let i = 0; i < 3; i++) await a.guard.failed(ip, own);
  await redis.kill();
  await redis.restart(); // no persistence: the counter is gone
  await eventually(() => a.store.status().up && b.store.status().up, 10_000, 'both rejoined');
  a.guard.succeeded(ip, own.user);
  await new Promise((r) => setTimeout(r, 200));
  const n = await guessesUntilBlocked([a, b], ip);
  t.ok(n <= limits.maxPerIp, `blocked after ${n} guesses spread over two replicas (limit ${limits.maxPerIp} in all)`);
});

// The same credit with the store down: failures in his own name counted by one replica alone
// (the store did not answer), then, the store back, forgiven by his success there, must not
// take back from the store the failures he made guessing other users on another replica.
t.test('failures the store never counted (it was down), forgiven after, take nothing back from it', async (t) => {
  const limits = { ...base, windowMs: 60_000 };
  const a = replica(limits);
  const b = replica(limits);
  await eventually(() => a.store.status().up && b.store.status().up, 5000, 'both joined');
  const ip = '192.0.2.43';
  await redis.kill();
  await eventually(() => !a.store.status().up, 5000, 'a saw the store go');
  for (let i = 0; i < 3; i++) await a.guard.failed(ip, own); // counted on a alone
  await redis.restart();
  await eventually(() => a.store.status().up && b.store.status().up, 10_000, 'both rejoined');
  for (let i = 0; i < 3; i++) {
    const attempt = { user: `other${i}@example.test`, password: true };
    t.equal((await b.guard.check(ip, attempt)).blocked, false, `guess ${i + 1} on b is tried`);
    await b.guard.failed(ip, attempt);
  }
  a.guard.succeeded(ip, own.user);
  await new Promise((r) => setTimeout(r, 200));
  const n = await guessesUntilBlocked([a], ip);
  t.ok(3 + n <= limits.maxPerIp, `blocked after ${3 + n} guesses at other users over two replicas (limit ${limits.maxPerIp} in all)`);
});

t.test('still: typos in the window, then the right password, are taken back in the store', async (t) => {
  const limits = { ...base, windowMs: 60_000 };
  const a = replica(limits);
  await eventually(() => a.store.status().up, 10_000, 'joined');
  const ip = '192.0.2.44';
  for (let i = 0; i < 3; i++) await a.guard.failed(ip, own);
  a.guard.succeeded(ip, own.user);
  await new Promise((r) => setTimeout(r, 200)); // the store's reward (not awaited by succeeded)
  t.equal((await a.store.addFailure('ip', ip))?.count, 1, 'the three typos were taken back: the next failure is the first');
});
