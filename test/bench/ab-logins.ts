// A/B of the login path: CPU per login (32 concurrent) and sequential login p50 of two
// compiled proxy builds and nginx mail + auth_http, rounds interleaved so machine load hits
// all alike. For a change's before/after numbers on a shared machine.
// Usage: npm run build && cp -r dist /tmp/base && (change, build) &&
//   node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs test/bench/ab-logins.ts /tmp/base/src/cli.js [ROUNDS] [LOGINS]
import { join } from 'node:path';
import { startWorld, startProxyProcess, LOGIN_USER, type ProxyProcess } from './env.js';
import { concurrentLogins, directTarget, loginLatency, proxyTarget, type LoginTarget } from './imap-phases.js';
import { nginxMailVersion, startNginxMail, type NginxMail } from './nginx.js';
import { plainIr } from './wire.js';
import { loadAvg1 } from './proc.js';
import { median, percentile } from './table.js';

const baseCli = process.argv[2];
const ROUNDS = Number(process.argv[3] ?? 4);
const LOGINS = Number(process.argv[4] ?? 800);
if (!baseCli) throw new Error('usage: ab-logins.ts BASE_CLI_JS [ROUNDS] [LOGINS]');
const world = await startWorld({ maxSessions: 64, mailboxBytes: 1024 });
const procs: ProxyProcess[] = [];
let nginx: NginxMail | null = null;
try {
  const a = await startProxyProcess(world, { build: 'dist', name: 'ab-base', cli: baseCli });
  procs.push(a);
  const b = await startProxyProcess(world, { build: 'dist', name: 'ab-new', cli: join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli.js') });
  procs.push(b);
  const targets: Array<{ name: string; t: LoginTarget; pids: () => number | readonly number[] }> = [
    { name: 'base', t: proxyTarget(world, a, LOGIN_USER, world.token), pids: () => a.pid },
    { name: 'new', t: proxyTarget(world, b, LOGIN_USER, world.token), pids: () => b.pid },
  ];
  if (nginxMailVersion()) {
    nginx = await startNginxMail({ backendPort: world.backend.imapPort, dir: world.backend.dir, master: world.backend.master, tokens: { [world.token]: LOGIN_USER } });
    const n = nginx;
    targets.push({ name: 'nginx', t: { ep: { port: n.port }, auth: () => `PLAIN ${plainIr('', LOGIN_USER, world.token)}` }, pids: () => n.pids() });
  }
  const direct = directTarget(world, LOGIN_USER);
  await loginLatency([direct, ...targets.map((x) => x.t)], 30); // warm-up: JIT, token cache
  const cpu = targets.map(() => [] as number[]);
  const lat = [[] as number[], ...targets.map(() => [] as number[])];
  for (let r = 0; r < ROUNDS; r++) {
    const load = loadAvg1();
    for (let k = 0; k < targets.length; k++) {
      const j = (r + k) % targets.length;
      cpu[j]!.push((await concurrentLogins(targets[j]!.t, 32, LOGINS, targets[j]!.pids())).cpuMsPerLogin!);
    }
    const l = await loginLatency([direct, ...targets.map((x) => x.t)], 60);
    l.forEach((xs, i) => lat[i]!.push(...xs));
    console.log(`round ${r + 1} (load ${load.toFixed(2)}): cpu ms/login ${targets.map((x, i) => `${x.name} ${cpu[i]!.at(-1)!.toFixed(3)}`).join(', ')}`);
  }
  const dp50 = percentile(lat[0]!, 50);
  console.log(`CPU per login, 32 concurrent, median of ${ROUNDS} × ${LOGINS}: ${targets.map((x, i) => `${x.name} ${median(cpu[i]!).toFixed(3)} ms`).join(', ')}`);
  console.log(`login p50 (${lat[0]!.length} sequential each): direct ${dp50.toFixed(2)} ms, ${targets.map((x, i) => `${x.name} ${percentile(lat[i + 1]!, 50).toFixed(2)} ms (${(percentile(lat[i + 1]!, 50) / dp50).toFixed(2)}×)`).join(', ')}`);
} finally {
  for (const p of procs) await p.stop();
  nginx?.stop();
  await world.stop();
}
