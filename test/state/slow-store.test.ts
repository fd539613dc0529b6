// A store that hangs (a real redis-server stopped with SIGSTOP: connections open, nothing
// answered) never holds a login up for longer than SHARED_STATE_TIMEOUT_MS per call, the
// replica's own counter still blocks at the limit, its last known deactivations stay in
// force, and the store is used again as soon as it answers.
import t from 'tap';
import { startRedis } from '../harness/redis.js';
import { eventually } from '../harness/proxy.js';
import { redisStore } from '../../src/state/redis-store.js';
import { SharedLoginGuard } from '../../src/state/shared-guard.js';
import { shareDisabledUsers } from '../../src/state/shared-disabled.js';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import { createLogger } from '../../src/observability/logger.js';

const TIMEOUT_MS = 150;
const limits = { windowMs: 300_000, maxPerIp: 4, maxPerUser: 100, blockMs: 900_000, delayMs: 0, delayMaxMs: 0, ipv6PrefixBits: 64 };
const log = createLogger('silent');
const redis = await startRedis({ password: 'test-store-password' });
t.teardown(() => redis.stop());

function replica() {
  const store = redisStore({ url: redis.url, password: 'test-store-password', timeoutMs: TIMEOUT_MS }, limits, log);
  const guard = new SharedLoginGuard(limits, store);
  const disabled = new DisabledUsers();
  const unshare = shareDisabledUsers(disabled, store, log);
  t.teardown(async () => { unshare(); guard.close(); await store.close(); });
  return { store, guard, disabled };
}
const a = replica();
const b = replica();
await eventually(() => a.store.status().up && b.store.status().up, 5000, 'both joined (with the password from the file)');

t.test('a paused store: every call ends within the timeout, limits fall back to the replica\'s own count', async (t) => {
  a.disabled.disable('carol@example.test', 'test');
  await eventually(() => b.disabled.reason('carol@example.test'), 2000, 'b learned the deactivation');
  redis.pause();
  t.teardown(() => redis.resume());
  const attempt = { user: 'alice@example.test', password: true };
  for (let i = 1; i <= limits.maxPerIp; i++) {
    const started = Date.now();
    t.equal((await a.guard.check('192.0.2.7', attempt)).blocked, false, `attempt ${i} is tried`);
    await a.guard.failed('192.0.2.7', attempt);
    const took = Date.now() - started;
    t.ok(took < 2 * TIMEOUT_MS + 200, `check and failure took ${took} ms (timeout ${TIMEOUT_MS} ms per call)`);
  }
  t.match(await a.guard.check('192.0.2.7', attempt), { blocked: true, scope: 'ip' }, 'blocked by the replica\'s own count');
  const started = Date.now();
  t.equal((await a.guard.check('192.0.2.8', attempt)).blocked, false, 'another client is not held up');
  t.ok(Date.now() - started < TIMEOUT_MS + 200, 'within the timeout');
  t.ok(b.disabled.reason('carol@example.test'), 'the last known deactivation stays in force');
});

t.test('resumed: the store counts again', async (t) => {
  redis.resume();
  // A fresh key per try: a call that timed out may still be executed once the store resumes.
  let n = 0;
  const key = (await eventually(async (): Promise<string | undefined> => {
    const k = `198.51.100.${++n}`;
    return (await a.store.addFailure('ip', k))?.count === 1 ? k : undefined;
  }, 5000, 'the store answers again'))!;
  t.equal((await b.store.addFailure('ip', key))?.count, 2, 'shared with the other replica');
});
