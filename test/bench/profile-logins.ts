// A CPU profile of the proxy's login path: N logins at C concurrent through the compiled
// proxy, started with --cpu-prof; prints the functions with the most self time.
// Usage: npm run build && node --import tsx test/bench/profile-logins.ts [N] [C]
import { readdirSync, readFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startWorld, startProxyProcess, LOGIN_USER } from './env.js';
import { proxyTarget, loginCycle } from './imap-phases.js';

const N = Number(process.argv[2] ?? 3000);
const C = Number(process.argv[3] ?? 16);
const dir = mkdtempSync(join(tmpdir(), 'omp-prof-'));
const world = await startWorld({ maxSessions: 64, mailboxBytes: 1024 });
try {
  const proxy = await startProxyProcess(world, { build: 'dist', name: 'prof', nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`], env: { LOG_LEVEL: process.env.PROF_LOG_LEVEL ?? 'info' } });
  const target = proxyTarget(world, proxy, LOGIN_USER, world.token);
  for (let i = 0; i < 50; i++) await loginCycle(target, i); // warm: JIT, token cache
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: C }, async () => { while (next < N) await loginCycle(target, next++); }));
  console.log(`${N} logins at ${C} concurrent in ${Math.round(performance.now() - started)} ms`);
  await proxy.stop();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile in ${dir}`);
  const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>; samples: number[]; timeDeltas: number[] };
  const self = new Map<number, number>();
  prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
  const byFn = new Map<string, number>();
  for (const n of prof.nodes) {
    const url = n.callFrame.url.replace(/^.*\/(node_modules|dist)\//, '$1/');
    const key = `${n.callFrame.functionName || '(anon)'} ${url}:${n.callFrame.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + (self.get(n.id) ?? 0));
  }
  const total = [...byFn.values()].reduce((a, b) => a + b, 0);
  const idle = [...byFn.entries()].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
  console.log(`busy ${((total - idle) / 1000).toFixed(0)} ms = ${((total - idle) / 1000 / N).toFixed(3)} ms per login (profile: ${join(dir, file)})`);
  for (const [k, v] of [...byFn.entries()].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.log(`${(v / 1000).toFixed(1).padStart(8)} ms ${(100 * v / (total - idle)).toFixed(1).padStart(5)}%  ${k}`);
  }
} finally {
  await world.stop();
}
