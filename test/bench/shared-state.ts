// Logins per second and proxy CPU per login with SHARED_STATE_URL off and on (a real
// redis-server on loopback), the two proxies measured in turns. Token logins with a cached
// token, 32 clients: what remains is the proxy's own work plus Dovecot's master login,
// so the difference is the store's round trip (one GET per login for the client's block).
//   node --import tsx test/bench/shared-state.ts [rounds] [logins]
import { startWorld, startProxyProcess, LOGIN_USER } from './env.js';
import { concurrentLogins, proxyTarget } from './imap-phases.js';
import { median } from './table.js';
import { startRedis } from '../harness/redis.js';

const rounds = Number(process.argv[2] ?? 5);
const logins = Number(process.argv[3] ?? 400);
const world = await startWorld({ maxSessions: 64, mailboxBytes: 0 });
const redis = await startRedis();
try {
  const off = await startProxyProcess(world, { build: 'dist', name: 'store-off' });
  const on = await startProxyProcess(world, { build: 'dist', name: 'store-on', env: { SHARED_STATE_URL: redis.url } });
  try {
    const r = { off: { rate: [] as number[], cpu: [] as number[] }, on: { rate: [] as number[], cpu: [] as number[] } };
    for (const p of [off, on]) await concurrentLogins(proxyTarget(world, p, LOGIN_USER, world.token), 8, 50, p.pid); // warm-up, token cached
    for (let i = 0; i < rounds; i++) {
      for (const [name, p] of [['off', off], ['on', on]] as const) {
        const x = await concurrentLogins(proxyTarget(world, p, LOGIN_USER, world.token), 32, logins, p.pid);
        r[name].rate.push(x.loginsPerS);
        r[name].cpu.push(x.cpuMsPerLogin!);
      }
    }
    for (const name of ['off', 'on'] as const) {
      console.log(`store ${name}: ${median(r[name].rate).toFixed(0)} logins/s, ${median(r[name].cpu).toFixed(3)} ms proxy CPU per login (median of ${rounds} x ${logins})`);
    }
  } finally {
    await on.stop();
    await off.stop();
  }
} finally {
  await redis.stop();
  await world.stop();
}
