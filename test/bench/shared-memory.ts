// Memory the shared store needs per 10,000 users for what issue 20 keeps in it beyond the
// counters (those are measured in docs/operations.md): app passwords (one per user, with its
// last-use data, as the proxy writes them), the ids imported from a state file, SCIM
// deletions kept for rejoining replicas, and shared token decisions. A real redis-server;
// `INFO memory` used_memory before and after each part (what `redis-cli INFO memory` prints).
//   node --import tsx test/bench/shared-memory.ts [users]
import { startRedis } from '../harness/redis.js';
import { hashAppPassword, generateAppPassword, type AppPasswordRecord } from '../../src/auth/app-passwords.js';
import { RedisAppPasswords } from '../../src/state/redis-app-passwords.js';
import { redisStore } from '../../src/state/redis-store.js';
import { createLogger } from '../../src/observability/logger.js';
import { sharedTokenDecisions } from '../../src/state/shared-tokens.js';
import { tokenKey } from '../../src/auth/cache.js';

const users = Number(process.argv[2] ?? 10_000);
const redis = await startRedis();
const usedMemory = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await redis.command('INFO memory'))![1]);
const config = { url: redis.url, timeoutMs: 5000 };
try {
  const apps = RedisAppPasswords.open(config);
  const hash = await hashAppPassword(generateAppPassword()); // every hash has the same length
  const records: AppPasswordRecord[] = Array.from({ length: users }, (_, i) => ({
    id: crypto.randomUUID(), user: `user${i}@example.test`, label: 'Laptop Thunderbird', createdAt: Date.now(), hash,
    lastUsedAt: Date.now(), lastAddress: '2001:db8::1234', lastProtocol: 'imap',
  }));
  const base = await usedMemory();
  await apps.import(records);
  const withApps = await usedMemory();
  await redis.command('DEL oauth2-mail-proxy:app-passwords-imported');
  const imported = withApps - (await usedMemory());
  await apps.close();
  const store = redisStore(config, { windowMs: 300_000, maxPerIp: 10, maxPerUser: 10, blockMs: 900_000, delayMs: 0, delayMaxMs: 0, ipv6PrefixBits: 64 }, createLogger('silent'));
  await new Promise((r) => setTimeout(r, 500));
  const beforeRemovals = await usedMemory();
  for (let i = 0; i < users; i++) await store.changeUser({ op: 'remove', user: `gone${i}@example.test`, reason: 'deleted' });
  const removals = (await usedMemory()) - beforeRemovals;
  const beforeTokens = await usedMemory();
  const decisions = sharedTokenDecisions(store)!;
  for (let i = 0; i < users; i++) {
    decisions.put(tokenKey(`token-${i}`), { status: 'valid', user: `user${i}@example.test`, claim: 'email', issuer: 'https://idp.example.test/realms/mail', mode: 'local', evidence: {}, expiresAt: Math.floor(Date.now() / 1000) + 3600 }, 300_000);
    if (i % 500 === 499) await store.getDecision('flush'); // one round trip now and then: the puts are fire-and-forget
  }
  await new Promise((r) => setTimeout(r, 500));
  const tokens = (await usedMemory()) - beforeTokens;
  await store.close();
  const per10k = (bytes: number): string => `${((bytes / users) * 10_000 / 1e6).toFixed(2)} MB`;
  console.log(`redis ${/redis_version:(\S+)/.exec(await redis.command('INFO server'))![1]}, ${users} users`);
  console.log(`app passwords (one per user, with last use): ${per10k(withApps - base - imported)} per 10,000 users`);
  console.log(`ids imported from a state file: ${per10k(imported)} per 10,000`);
  console.log(`SCIM deletions kept for rejoining replicas: ${per10k(removals)} per 10,000`);
  console.log(`shared token decisions: ${per10k(tokens)} per 10,000 tokens`);
} finally {
  await redis.stop();
}
