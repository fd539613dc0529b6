// Connect → greeting of two compiled proxy builds and the lean Node login, interleaved: the
// accept path (admission, limits, the greeting write) on its own, with far more samples than
// the login-phase table's 200 (whose medians of one build scatter by ~0.1 ms between runs).
// Each connection: TCP connect, wait for the greeting, close; GAP_MS between connections so
// the servers sleep between them, as between a real client's events.
// Usage: npm run build && cp -r dist /tmp/base && (change, build) &&
//   node --import tsx test/bench/greeting-latency.ts /tmp/base/src/cli.js [ROUNDS] [N] [GAP_MS]
import net from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startWorld, startProxyProcess, LOGIN_USER, type ProxyProcess } from './env.js';
import { startLeanLogin } from './lean-login.js';
import { startFakeImapBackend } from './fake-imap-backend.js';
import { loadAvg1 } from './proc.js';
import { median, percentile } from './table.js';

const baseCli = process.argv[2];
const ROUNDS = Number(process.argv[3] ?? 5);
const N = Number(process.argv[4] ?? 400);
const GAP_MS = Number(process.argv[5] ?? 3);
if (!baseCli) throw new Error('usage: greeting-latency.ts BASE_CLI_JS [ROUNDS] [N] [GAP_MS]');

/** ms from the client's connect to the first byte of the greeting. */
function greetingMs(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let t0 = 0;
    const s = net.connect({ host: '127.0.0.1', port, noDelay: true });
    const timer = setTimeout(() => { s.destroy(); reject(new Error('no greeting within 5 s')); }, 5000);
    s.once('connect', () => { t0 = performance.now(); });
    s.once('data', () => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      s.destroy();
      resolve(ms);
    });
    s.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

const world = await startWorld({ maxSessions: 64, mailboxBytes: 1024 });
const fake = await startFakeImapBackend(world.backend.dir);
const env = { DMS_IMAP_PORT: String(fake.port) };
const procs: ProxyProcess[] = [];
try {
  procs.push(await startProxyProcess(world, { build: 'dist', name: 'greet-base', cli: baseCli, env }));
  procs.push(await startProxyProcess(world, { build: 'dist', name: 'greet-new', cli: join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli.js'), env }));
  const lean = await startLeanLogin(fake.port, world.backend.dir, world.backend.master, { [world.token]: LOGIN_USER });
  const targets = [{ name: 'base', port: procs[0]!.imapPort }, { name: 'new', port: procs[1]!.imapPort }, { name: 'lean', port: lean.port }];
  try {
    for (const t of targets) for (let i = 0; i < 300; i++) await greetingMs(t.port); // warm-up: JIT
    const all = targets.map(() => [] as number[]);
    for (let r = 0; r < ROUNDS; r++) {
      const load = loadAvg1();
      const round = targets.map(() => [] as number[]);
      // Connections take turns target by target, so load hits all alike.
      for (let i = 0; i < N; i++) {
        for (let k = 0; k < targets.length; k++) {
          const j = (i + k + r) % targets.length;
          round[j]!.push(await greetingMs(targets[j]!.port));
          await sleep(GAP_MS);
        }
      }
      round.forEach((xs, j) => all[j]!.push(...xs));
      console.log(`round ${r + 1} (load ${load.toFixed(2)}): median µs ${targets.map((t, j) => `${t.name} ${(median(round[j]!) * 1000).toFixed(1)}`).join(', ')}`);
    }
    console.log(`connect → greeting, ${ROUNDS} × ${N} each, µs: ${targets.map((t, j) => `${t.name} p50 ${(median(all[j]!) * 1000).toFixed(1)} p25 ${(percentile(all[j]!, 25) * 1000).toFixed(1)} p75 ${(percentile(all[j]!, 75) * 1000).toFixed(1)}`).join('; ')}`);
  } finally {
    lean.stop();
  }
} finally {
  for (const p of procs) await p.stop();
  fake.stop();
  await world.stop();
}
