// Portal sessions in the shared store (src/portal/redis-sessions.ts) against a real
// redis-server: one user signing in over and over keeps at most PORTAL_MAX_SESSIONS_PER_USER
// sessions (their oldest go, another user's stay), and the user's index forgets sessions
// that expired instead of growing with every sign-in.
import t from 'tap';
import { once } from 'node:events';
import { startRedis } from '../harness/redis.js';
import { RedisPortalSessions } from '../../src/portal/redis-sessions.js';
import { PORTAL_MAX_SESSIONS_PER_USER } from '../../src/limits.js';

const redis = await startRedis();
t.teardown(() => redis.stop());
const sessions = RedisPortalSessions.open({ url: redis.url, timeoutMs: 2000 }, 60_000);
t.teardown(() => sessions.close());
// No offline queue (every call is bounded): wait, bounded, for the connection.
if (sessions.client.status !== 'ready') await Promise.race([once(sessions.client, 'ready'), new Promise((_, reject) => setTimeout(() => reject(new Error('redis not ready in 10 s')), 10_000).unref())]);

t.test('one user signing in over and over keeps their newest sessions; another user\'s stay', async (t) => {
  const alice = await sessions.start('alice@example.test');
  const mallory: string[] = [];
  for (let i = 0; i < 5 * PORTAL_MAX_SESSIONS_PER_USER; i++) mallory.push(await sessions.start('Mallory@example.test'));
  t.ok(await sessions.get(alice), 'alice is still signed in');
  const live = (await Promise.all(mallory.map((id) => sessions.get(id)))).filter(Boolean).length;
  t.equal(live, PORTAL_MAX_SESSIONS_PER_USER, `mallory has ${PORTAL_MAX_SESSIONS_PER_USER} sessions`);
  t.ok(await sessions.get(mallory.at(-1)), 'the newest among them');
  t.notOk(await sessions.get(mallory[0]), 'not the oldest');
  t.ok((await sessions.client.scard('oauth2-mail-proxy:portal:user:mallory@example.test')) <= PORTAL_MAX_SESSIONS_PER_USER, 'the user\'s index is bounded too');
});
