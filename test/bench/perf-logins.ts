// On-CPU profile of the proxy's login path with Linux perf (cpu-clock samples count only
// time on a CPU, unlike --cpu-prof's wall-clock samples, which charge a write that got the
// process descheduled with the time it waited): N logins at C concurrent through the compiled
// proxy started with --perf-basic-prof; writes perf.data to DIR for `perf report`.
// Usage (root or perf_event_paranoid ≤ 1): npm run build &&
//   [WARM=3000] [FAKE_BACKEND=1] [LEAN=1 | NGINX=1 | NGINX=checked] [PERF_NODE_ARGS=...] node --import tsx test/bench/perf-logins.ts [N] [C] [CLI_JS]
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { benchProxyEnv, startWorld, startProxyProcess, LOGIN_USER } from './env.js';
import { proxyTarget, loginCycle, pool } from './imap-phases.js';
import { cpuPreciseMs } from './proc.js';
import { startFakeImapBackend } from './fake-imap-backend.js';
import { startLeanLogin } from './lean-login.js';
import { checkedAuth, startNginxMail } from './nginx.js';
import { plainIr } from './wire.js';

const N = Number(process.argv[2] ?? 3000);
const C = Number(process.argv[3] ?? 32);
const cli = process.argv[4];
const dir = mkdtempSync(join(tmpdir(), 'omp-perf-'));
const world = await startWorld({ maxSessions: 64, mailboxBytes: 1024 });
// FAKE_BACKEND=1: log in to fake-imap-backend.ts, not Dovecot (the proxy's own work, run hot).
const fake = process.env.FAKE_BACKEND ? await startFakeImapBackend(world.backend.dir) : null;
// PERF_NODE_ARGS: more V8 flags for the profiled process, e.g. --interpreted-frames-native-stack
// (a function still in the interpreter then has its own frame, not InterpreterEntryTrampoline's).
const nodeArgs = ['--perf-basic-prof', ...(process.env.PERF_NODE_ARGS ?? '').split(' ').filter(Boolean)];
try {
  const proxy = await startProxyProcess(world, { build: 'dist', name: 'perf', nodeArgs, ...(cli ? { cli } : {}), ...(fake ? { env: { DMS_IMAP_PORT: String(fake.port) } } : {}) });
  // LEAN=1: profile lean-login.ts (the login job in the least Node code) instead of the proxy.
  const lean = process.env.LEAN ? await startLeanLogin(fake?.port ?? world.backend.imapPort, world.backend.dir, world.backend.master, { [world.token]: LOGIN_USER }, nodeArgs) : null;
  // NGINX=1: profile nginx's mail proxy and its auth_http server (a Node process) together,
  // against Dovecot; read with `perf report --sort comm,dso` (no feature table for them).
  // NGINX=checked: with the checking auth server (auth-http-checked.mjs, the proxy's modules from dist/).
  const nginx = process.env.NGINX && !fake ? await startNginxMail({ backendPort: world.backend.imapPort, dir: world.backend.dir, master: world.backend.master, tokens: { [world.token]: LOGIN_USER }, ...(process.env.NGINX === 'checked' ? { checked: { ...checkedAuth('dist', benchProxyEnv(world)), nodeArgs } } : {}) }) : null;
  const target = lean ? { ...proxyTarget(world, proxy, LOGIN_USER, world.token), ep: { port: lean.port } }
    : nginx ? { ...proxyTarget(world, proxy, LOGIN_USER, world.token), ep: { port: nginx.port }, auth: () => `PLAIN ${plainIr('', LOGIN_USER, world.token)}` }
      : proxyTarget(world, proxy, LOGIN_USER, world.token);
  const pids: readonly number[] = lean ? [lean.pid] : nginx ? nginx.pids() : [proxy.pid];
  await pool(C, Number(process.env.WARM ?? 300), (i) => loginCycle(target, i).then(() => undefined)); // warm: JIT, token cache (WARM=3000: steady state)
  const data = join(dir, 'perf.data');
  const perf = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '4000', '-g', '-p', pids.join(','), '-o', data], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  const cpuOf = (): number => pids.reduce((sum, p) => sum + cpuPreciseMs(p), 0);
  const cpu0 = cpuOf();
  await pool(C, N, (i) => loginCycle(target, i).then(() => undefined));
  const cpu = (cpuOf() - cpu0) / N;
  perf.kill('SIGINT');
  await new Promise((r) => perf.once('exit', r));
  console.log(`${N} logins at ${C} concurrent: ${cpu.toFixed(3)} ms CPU per login; perf report -i ${data} --no-children --sort dso,sym`);
  if (!nginx) console.log(`by feature: node --import tsx test/bench/perf-account.ts ${lean ? 'lean' : 'proxy'}=${data}:${N}`);
  lean?.stop();
  await nginx?.stop();
  await proxy.stop();
} finally {
  fake?.stop();
  await world.stop();
}
