// A/B of the login path: CPU per login (32 concurrent) and sequential login p50 of two
// compiled proxy builds and nginx mail + auth_http, rounds interleaved so machine load hits
// all alike. For a change's before/after numbers on a shared machine.
// Usage: npm run build && cp -r dist /tmp/base && (change, build) &&
//   node --import tsx test/bench/ab-logins.ts /tmp/base/src/cli.js [ROUNDS] [LOGINS]
// Settings (environment): AB_FAKE_BACKEND=1 (a fake Dovecot: the proxy's own cost, run hot),
// AB_FLOORS=1 (also the Node floors), AB_NGINX_CHECKED=1 (also nginx with the checking auth server), AB_TLS=1 (clients over implicit TLS), AB_BASE_ENV /
// AB_NEW_ENV / AB_BASE_NODE_ARGS / AB_NEW_NODE_ARGS (one build against itself with other settings).
import { join } from 'node:path';
import { benchProxyEnv, startWorld, startProxyProcess, LOGIN_USER, type ProxyProcess } from './env.js';
import { concurrentLogins, directTarget, loginLatency, oauthTarget, proxyTarget, type LoginTarget } from './imap-phases.js';
import { checkedAuth, nginxMailVersion, startNginxMail, type NginxMail } from './nginx.js';
import { plainIr } from './wire.js';
import { startForwarder, type Forwarder } from './forwarder.js';
import { startLeanLogin } from './lean-login.js';
import { startFakeImapBackend } from './fake-imap-backend.js';
import { loadAvg1 } from './proc.js';
import { median, percentile } from './table.js';

const baseCli = process.argv[2];
const ROUNDS = Number(process.argv[3] ?? 4);
const LOGINS = Number(process.argv[4] ?? 800);
if (!baseCli) throw new Error('usage: ab-logins.ts BASE_CLI_JS [ROUNDS] [LOGINS]');
// Ablations of one build: AB_BASE_ENV / AB_NEW_ENV ('K=V,K=V') and AB_BASE_NODE_ARGS /
// AB_NEW_NODE_ARGS (space-separated) start either side with other settings or V8 flags.
const envOf = (v: string | undefined): Record<string, string> => Object.fromEntries((v ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const argsOf = (v: string | undefined): string[] => (v ?? '').split(' ').filter(Boolean);
const world = await startWorld({ maxSessions: 64, mailboxBytes: 1024 });
// AB_FAKE_BACKEND=1: every target logs in to fake-imap-backend.ts instead of Dovecot (faster,
// quieter rounds for a change's own cost; no nginx).
const fake = process.env.AB_FAKE_BACKEND ? await startFakeImapBackend(world.backend.dir) : null;
const backendPort = fake?.port ?? world.backend.imapPort;
const fakeEnv: Record<string, string> = fake ? { DMS_IMAP_PORT: String(fake.port) } : {};
// AB_TLS=1: clients log in over implicit TLS (993-style) to both proxies and to nginx (same
// certificate), as real clients do; direct is Dovecot's own IMAPS; no floors.
const tls = Boolean(process.env.AB_TLS);
const procs: ProxyProcess[] = [];
let nginx: NginxMail | null = null;
let checked: NginxMail | null = null;
const refs: Forwarder[] = [];
try {
  const a = await startProxyProcess(world, { build: 'dist', name: 'ab-base', cli: baseCli, env: { ...fakeEnv, ...envOf(process.env.AB_BASE_ENV) }, nodeArgs: argsOf(process.env.AB_BASE_NODE_ARGS) });
  procs.push(a);
  const b = await startProxyProcess(world, { build: 'dist', name: 'ab-new', cli: join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli.js'), env: { ...fakeEnv, ...envOf(process.env.AB_NEW_ENV) }, nodeArgs: argsOf(process.env.AB_NEW_NODE_ARGS) });
  procs.push(b);
  const targets: Array<{ name: string; t: LoginTarget; pids: () => number | readonly number[] }> = [
    { name: 'base', t: proxyTarget(world, a, LOGIN_USER, world.token, tls), pids: () => a.pid },
    { name: 'new', t: proxyTarget(world, b, LOGIN_USER, world.token, tls), pids: () => b.pid },
  ];
  if (!fake && nginxMailVersion()) {
    nginx = await startNginxMail({ backendPort: world.backend.imapPort, dir: world.backend.dir, master: world.backend.master, tokens: { [world.token]: LOGIN_USER }, ...(tls ? { tls: world.certs } : {}) });
    const n = nginx;
    const ep = tls ? { port: n.tlsPort!, tlsCa: world.proxyCa } : { port: n.port };
    targets.push({ name: 'nginx', t: { ep, auth: () => `PLAIN ${plainIr('', LOGIN_USER, world.token)}` }, pids: () => n.pids() });
    // AB_NGINX_CHECKED=1: also nginx with the checking auth server (auth-http-checked.mjs: the
    // proxy's token decision, failure guard and login line, from this tree's dist/).
    if (process.env.AB_NGINX_CHECKED) {
      const c = await startNginxMail({ backendPort: world.backend.imapPort, dir: world.backend.dir, master: world.backend.master, tokens: {}, checked: checkedAuth('dist', benchProxyEnv(world)), ...(tls ? { tls: world.certs } : {}) });
      checked = c;
      const cep = tls ? { port: c.tlsPort!, tlsCa: world.proxyCa } : { port: c.port };
      targets.push({ name: 'nginx-checked', t: { ep: cep, auth: () => `PLAIN ${plainIr('', LOGIN_USER, world.token)}` }, pids: () => c.pids() });
    }
  }
  const direct = fake ? { ...directTarget(world, LOGIN_USER), ep: { port: fake.port } } : directTarget(world, LOGIN_USER, tls);
  // AB_FLOORS=1: also the two Node floors, the bare forwarder (the client's own master login
  // passed through) and lean-login.ts (the login job in the least Node code).
  if (process.env.AB_FLOORS && !tls) {
    const fw = await startForwarder(backendPort, world.backend.dir);
    refs.push(fw);
    targets.push({ name: 'floor', t: { ep: { port: fw.port }, auth: direct.auth }, pids: () => fw.pids() });
    const lean = await startLeanLogin(backendPort, world.backend.dir, world.backend.master, { [world.token]: LOGIN_USER });
    refs.push(lean);
    targets.push({ name: 'lean', t: oauthTarget({ port: lean.port }, LOGIN_USER, world.token), pids: () => lean.pids() });
  }
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
  checked?.stop();
  for (const r of refs) r.stop();
  fake?.stop();
  await world.stop();
}
