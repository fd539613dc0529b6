// Where the proxy's per-login bytes are allocated: V8's sampling heap profiler with the
// objects GCs collected included, over N logins (login + LOGOUT, 32 concurrent, fake backend)
// after a warm-up; prints bytes per login by allocating function and by file. Complements
// alloc-per-login.ts (how many bytes) with where they come from (issue 21).
// Usage: npm run build && [HEAP_KEEP=FILE] node --import tsx test/bench/alloc-sites.ts [LOGINS] [TOP]
// (HEAP_KEEP: also write V8's sampling profile there, for a closer look at whole stacks.)
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { startWorld, startProxyProcess, LOGIN_USER } from './env.js';
import { loginCycle, pool, proxyTarget } from './imap-phases.js';
import { startFakeImapBackend } from './fake-imap-backend.js';

const N = Number(process.argv[2] ?? 5000);
const TOP = Number(process.argv[3] ?? 40);
interface Node { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: Node[]; id: number }
interface Profile { head: Node; samples: Array<{ size: number; nodeId: number }> }

const world = await startWorld({ maxSessions: 64, mailboxBytes: 1024 });
const fake = await startFakeImapBackend(world.backend.dir);
const out = join(world.backend.dir, 'heap-sampling.json');
const preload = join(world.backend.dir, 'heap-sampling.mjs');
// SIGUSR2 starts sampling; the second one writes the profile.
writeFileSync(preload, `import inspector from 'node:inspector';
import { writeFileSync } from 'node:fs';
const s = new inspector.Session(); s.connect();
let on = false;
process.on('SIGUSR2', () => {
  if (!on) { on = true; s.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }); return; }
  s.post('HeapProfiler.stopSampling', (e, r) => writeFileSync(${JSON.stringify(out)}, JSON.stringify(r.profile)));
});
`);
try {
  const proxy = await startProxyProcess(world, { build: 'dist', name: 'alloc-sites', env: { DMS_IMAP_PORT: String(fake.port) }, nodeArgs: ['--import', preload] });
  try {
    const target = proxyTarget(world, proxy, LOGIN_USER, world.token);
    await pool(32, 3000, (i) => loginCycle(target, i).then(() => undefined)); // warm: JIT, token cache
    await sleep(300);
    process.kill(proxy.pid, 'SIGUSR2');
    await sleep(100);
    await pool(32, N, (i) => loginCycle(target, i).then(() => undefined));
    await sleep(300);
    process.kill(proxy.pid, 'SIGUSR2');
    for (let i = 0; i < 50; i++) { await sleep(100); try { readFileSync(out); break; } catch { /* not yet */ } }
  } finally {
    await proxy.stop();
  }
  const p = JSON.parse(readFileSync(out, 'utf8')) as Profile;
  if (process.env.HEAP_KEEP) writeFileSync(process.env.HEAP_KEEP, JSON.stringify(p));
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  // Each node's selfSize is bytes sampled in it; attribute to the nearest frame in our code
  // (dist/src) or node_modules package, falling back to the allocating frame.
  const walk = (n: Node, owner: string | null): void => {
    const url = n.callFrame.url;
    const here = /\/dist\/src\/|node_modules\//.test(url) ? `${n.callFrame.functionName || '(anon)'} ${url.replace(/.*\/(dist\/src\/|node_modules\/)/, '$1')}:${n.callFrame.lineNumber + 1}` : null;
    const own = here ?? owner;
    const key = `${n.callFrame.functionName || '(anon)'} ${url.replace(/.*\/(dist\/src\/|node_modules\/|node:)/, '$1') || '(native)'}:${n.callFrame.lineNumber + 1}  <- ${owner ?? '-'}`;
    if (n.selfSize > 0) {
      byFn.set(key, (byFn.get(key) ?? 0) + n.selfSize);
      const file = (own ?? 'node internals').replace(/^\S+ /, '').replace(/:\d+$/, '');
      byFile.set(file, (byFile.get(file) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, own);
  };
  walk(p.head, null);
  const total = [...byFn.values()].reduce((a, b) => a + b, 0);
  console.log(`${N} logins: ${(total / N).toFixed(0)} bytes sampled per login`);
  const show = (m: Map<string, number>, k: number): void => {
    for (const [name, b] of [...m].sort((a, b) => b[1] - a[1]).slice(0, k)) console.log(`${(b / N).toFixed(0).padStart(7)}  ${name}`);
  };
  console.log('\nby nearest file of ours or a package:'); show(byFile, 30);
  console.log('\nby allocating frame (<- nearest frame of ours):'); show(byFn, TOP);
} finally {
  fake.stop();
  await world.stop();
}
