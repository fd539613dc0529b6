// npm run bench [-- --quick] [-- --proxy=src|dist] [-- --only=login,cpu,fetch,smtp,phases,tokens,idle,idle10k]
//                [-- --quiet-wait=SECONDS] (how long a phase waits for a quiet machine, 90 by default)
//                [-- --proxy-node-args=--cpu-prof,--cpu-prof-dir=/tmp/prof]
//                [-- --proxy-cli=/tmp/base/src/cli.js] (another compiled build, e.g. the one before a change)
//
// Starts the DMS-like backend, the in-process IdP and the proxy (its own process, the
// compiled dist/ build by default), measures the proxy against a client talking to the backend
// directly, proxy and direct runs interleaved, and prints one markdown table. Progress goes
// to stderr. --quick (or BENCH_QUICK=1) is the smoke run CI uses: a few iterations of every
// row; its numbers mean nothing. Nothing here asserts on times. After the table, the phases
// run prints a second one: where one login's time goes, for direct, the proxy and nginx.
import { arch, cpus, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { benchProxyEnv, startWorld, startProxyProcess, LOGIN_USER, BULK_USER, type ProxyBuild, type ProxyProcess, type BenchWorld } from './env.js';
import { concurrentLogins, directTarget, oauthTarget, fetchAll, fetchConnection, idleSessions, loginLatency, proxyTarget, type LoginTarget } from './imap-phases.js';
import { checkedAuth, nginxMailVersion, startNginxMail, type NginxMail } from './nginx.js';
import { formatPhaseTable, loginPhases, type PhaseTarget } from './login-phases.js';
import { startTapRelay, type TapRelay } from './tap-relay.js';
import { plainIr } from './wire.js';
import { messageOf, smtpSession, submitRate, type SmtpSide } from './smtp-phases.js';
import { tokenRates } from './token-rates.js';
import { haproxyVersion, startForwarder, startHaproxyForwarder, type Forwarder } from './forwarder.js';
import { startLeanLogin } from './lean-login.js';
import { cpuPreciseMs, loadAvg1, raiseFdLimit, waitQuiet, type Quiet } from './proc.js';
import { connectInspector, type Inspector } from '../reliability/load/inspector.js';
import { readFile } from 'node:fs/promises';
import { formatTable, median, percentile, type Row } from './table.js';

const PHASES = ['login', 'cpu', 'fetch', 'smtp', 'phases', 'tokens', 'idle', 'idle10k'] as const;
type Phase = typeof PHASES[number];

interface Params {
  loginRounds: number; cpuLogins: number; cpuRounds: number; mailboxBytes: number; fetchRounds: number;
  idleSessions: number; manySessions: number; smtpSmall: number; smtpLarge: number; smtpRounds: number;
  tokenMs: number; quietWaitMs: number; phaseLogins: number;
}

const FULL: Params = {
  loginRounds: 300, cpuLogins: 1600, cpuRounds: 2, mailboxBytes: 64 * 1048576, fetchRounds: 5,
  idleSessions: 2000, manySessions: 10_000, smtpSmall: 60, smtpLarge: 6, smtpRounds: 3,
  tokenMs: 2000, quietWaitMs: 90_000, phaseLogins: 200,
};
const QUICK: Params = {
  loginRounds: 10, cpuLogins: 64, cpuRounds: 1, mailboxBytes: 4 * 1048576, fetchRounds: 1,
  idleSessions: 40, manySessions: 100, smtpSmall: 3, smtpLarge: 1, smtpRounds: 1,
  tokenMs: 200, quietWaitMs: 0, phaseLogins: 5,
};

function parseArgs(argv: string[]): { quick: boolean; build: ProxyBuild; only: Set<Phase>; nodeArgs: string[]; quietWaitS?: number; cli?: string } {
  let cli: string | undefined;
  let quick = process.env.BENCH_QUICK === '1';
  let nodeArgs: string[] = [];
  let build: ProxyBuild = 'dist';
  let only = new Set<Phase>(PHASES);
  let quietWaitS: number | undefined;
  for (const a of argv) {
    if (a === '--quick') quick = true;
    else if (/^--quiet-wait=\d+$/.test(a)) quietWaitS = Number(a.slice(13));
    else if (a === '--proxy=src' || a === '--proxy=dist') build = a.slice(8) as ProxyBuild;
    else if (a.startsWith('--proxy-cli=')) cli = a.slice(12);
    else if (a.startsWith('--proxy-node-args=')) nodeArgs = a.slice(18).split(',').filter(Boolean); // e.g. --cpu-prof,--cpu-prof-dir=/tmp/p
    else if (a.startsWith('--only=')) {
      const names = a.slice(7).split(',');
      for (const n of names) if (!PHASES.includes(n as Phase)) throw new Error(`unknown phase ${n} (${PHASES.join(', ')})`);
      only = new Set(names as Phase[]);
    } else throw new Error(`unknown argument ${a}`);
  }
  return { quick, build, only, nodeArgs, ...(quietWaitS === undefined ? {} : { quietWaitS }), ...(cli ? { cli } : {}) };
}

const say = (s: string): void => { process.stderr.write(`bench: ${s}\n`); };

async function main(): Promise<void> {
  const { quick, build, only, nodeArgs, quietWaitS, cli } = parseArgs(process.argv.slice(2));
  const P = { ...(quick ? QUICK : FULL), ...(quietWaitS === undefined ? {} : { quietWaitMs: quietWaitS * 1000 }) };
  const rows: Row[] = [];
  let phaseTable = '';
  const loadSeen: number[] = [];
  const quiet = async (what: string): Promise<string> => {
    const q: Quiet = P.quietWaitMs ? await waitQuiet(P.quietWaitMs) : { load1: loadAvg1(), busy: 0, waitedMs: 0 };
    loadSeen.push(q.load1);
    say(`${what}: load ${q.load1.toFixed(2)}, ${(q.busy * 100).toFixed(0)}% busy${q.waitedMs > 1000 ? ` (waited ${(q.waitedMs / 1000).toFixed(0)} s)` : ''}`);
    return q.load1.toFixed(2);
  };
  // Every spliced session holds two sockets in the proxy; a container without
  // CAP_SYS_RESOURCE cannot go past its hard RLIMIT_NOFILE (20,000 here).
  const fds = raiseFdLimit(P.manySessions * 2 + 1000);
  if (fds < P.manySessions * 2 + 100) {
    const fit = Math.floor((fds - 100) / 2 / 100) * 100;
    say(`open-files limit ${fds}: the many-sessions run opens ${fit}, not ${P.manySessions}`);
    P.manySessions = fit;
  }
  const maxSessions = only.has('idle10k') ? P.manySessions : P.idleSessions;
  const startLoad = loadAvg1();
  say(`starting backend (${(P.mailboxBytes / 1048576).toFixed(0)} MiB mailbox), IdP, proxy (${build})`);
  const world = await startWorld({ maxSessions, mailboxBytes: P.mailboxBytes });
  say(`backend in ${world.backend.dir}`);
  const proxies: ProxyProcess[] = [];
  // What a forwarder costs with nothing of the proxy's work: the Node floor, and HAProxy as the
  // reference for a C event loop on the same kernel.
  const refs: Reference[] = [];
  const nginxes: NginxMail[] = [];
  try {
    refs.push({ kind: 'Floor', what: 'a bare Node forwarder', f: await startForwarder(world.backend.imapPort, world.backend.dir), note: 'stream.pipe, no TLS/auth/logs' });
    // The login job itself in the least Node code (greeting, OAUTHBEARER, a Map lookup, ID +
    // master PLAIN, pipe): what a Node proxy cannot go below; the proxy's CPU above it is its own.
    refs.push({
      kind: 'Floor', what: 'a lean Node login', oauth: true, loginOnly: true, note: 'lean-login.ts: OAUTHBEARER, Map lookup, ID + master PLAIN, stream.pipe; no TLS/limits/timers/logs',
      f: await startLeanLogin(world.backend.imapPort, world.backend.dir, world.backend.master, { [world.token]: LOGIN_USER, [world.bulkToken]: BULK_USER }),
    });
    const hv = haproxyVersion();
    if (hv) refs.push({ kind: 'Reference', what: `HAProxy ${hv} (TCP mode, 1 thread)`, f: await startHaproxyForwarder(world.backend.imapPort, world.backend.dir), note: 'C event loop, default 16 KiB buffers' });
    else say('haproxy not installed: no HAProxy reference rows');
    // nginx's mail proxy with an auth_http server doing the master login: the peer DMS operators
    // would pick instead of this proxy. Its default proxy_buffer is one page (4 KiB).
    const nv = nginxMailVersion();
    if (nv) {
      for (const buffer of [undefined, '64k']) {
        // The default-buffer one also listens with TLS (the proxy's certificate): the login as users make it.
        const f = await startNginxMail({ backendPort: world.backend.imapPort, dir: world.backend.dir, master: world.backend.master, tokens: { [world.token]: LOGIN_USER, [world.bulkToken]: BULK_USER }, ...(buffer ? { proxyBuffer: buffer } : { tls: world.certs }) });
        nginxes.push(f);
        refs.push({ kind: 'Peer', what: `nginx ${nv} mail + auth_http (proxy_buffer ${buffer ?? '4k'})`, f, note: 'PLAIN with the token; Node auth_http map lookup; LOGIN to Dovecot as master; CPU of nginx + auth server', plain: true, ...(f.tlsPort ? { tlsPort: f.tlsPort } : {}) });
      }
      // The same nginx with an auth server that checks as the proxy does (its failure guard,
      // token decision and cache, login line: auth-http-checked.mjs on the proxy's modules): the
      // operator's production setup, where the map lookup above is nginx's least cost.
      const checked = await startNginxMail({ backendPort: world.backend.imapPort, dir: world.backend.dir, master: world.backend.master, tokens: {}, checked: checkedAuth(build, benchProxyEnv(world)) });
      nginxes.push(checked);
      refs.push({ kind: 'Peer', what: `nginx ${nv} mail + a checking auth_http (proxy_buffer 4k)`, f: checked, note: "PLAIN with the token; Node auth_http with the proxy's failure guard, token cache and login line; CPU of nginx + auth server", plain: true, loginOnly: true });
    } else say('nginx or libnginx-mod-mail not installed (run scripts/install-backend.sh as root): no nginx rows');
  } catch (e) {
    // A reference that did not start: stop what did, and the backend, before failing.
    for (const r of refs) r.f.stop();
    await world.stop();
    throw e;
  }
  const newProxy = async (name: string, extraArgs: string[] = [], env?: Record<string, string>): Promise<ProxyProcess> => {
    const p = await startProxyProcess(world, { build, name, nodeArgs: [...nodeArgs, ...extraArgs], ...(env ? { env } : {}), ...(cli ? { cli } : {}) });
    proxies.push(p);
    return p;
  };
  // The relays the login-phase run puts in front of Dovecot and the IdP. The quick smoke run
  // starts one proxy process only (from src/ that start is the slow part) and sends its legs
  // through them: its numbers mean nothing anyway.
  const taps = only.has('phases') ? await startPhaseTaps(world) : undefined;
  try {
    // The SMTP phase's second proxy, plaintext to Postfix: the quick run starts it beside the
    // main one (from src/ each start takes long), the full run when the phase begins.
    const plainLegEnv = { DMS_SUBMISSION_TLS: 'none', DMS_SUBMISSION_PORT: String(world.backend.submissionPlainPort) };
    const startPlainLeg = (): Promise<ProxyProcess> => newProxy('smtp-plain-leg', [], plainLegEnv);
    // allSettled: one that failed must not leave the other starting after the clean-up ran.
    const started = await Promise.allSettled([
      newProxy('main', [], quick && taps ? taps.proxyEnv : undefined),
      quick && only.has('smtp') ? startPlainLeg() : startPlainLeg,
    ]);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    const proxy = (started[0] as PromiseFulfilledResult<ProxyProcess>).value;
    const plainLeg = (started[1] as PromiseFulfilledResult<ProxyProcess | typeof startPlainLeg>).value;
    if (only.has('login')) await phaseLogin(world, proxy, refs, P, rows, await quiet('login latency'));
    if (only.has('cpu')) await phaseCpu(world, proxy, refs, P, rows, await quiet('CPU per login'));
    if (only.has('fetch')) await phaseFetch(world, proxy, refs, P, rows, quiet);
    if (only.has('smtp')) await phaseSmtp(world, proxy, plainLeg, P, rows, quiet);
    if (taps) phaseTable = await phaseBreakdown(world, taps, nginxes[0], P, quick ? proxy : () => newProxy('phases', [], taps.proxyEnv), await quiet('login phases'));
    if (only.has('tokens')) {
      const load = await quiet('token validation');
      const t = await tokenRates(world.idp, P.tokenMs);
      rows.push({ figure: 'Token validation, cached token (checks/s)', proxy: t.cachedPerS, digits: 0, load });
      rows.push({ figure: 'Token validation, local JWT RS256, cache off (checks/s)', proxy: t.localJwtPerS, digits: 0, load });
    }
    // Memory is read from a fresh proxy process per run (the quick smoke reuses this one),
    // started with --inspect: each reading follows two full GCs, so it counts what sessions
    // hold, not garbage the last GC happened to leave (the raw figure goes in the notes).
    const inspectors = new Map<ProxyProcess, Inspector>();
    const memoryProxy = async (name: string): Promise<ProxyProcess> => {
      if (quick) return proxy;
      const p = await newProxy(name, ['--inspect=127.0.0.1:0']);
      inspectors.set(p, await connectInspector(await inspectorUrl(p.logFile)));
      return p;
    };
    const collect = (p: ProxyProcess): (() => Promise<void>) | undefined => {
      const i = inspectors.get(p);
      return i ? () => i.collectGarbage() : undefined;
    };
    const done = async (p: ProxyProcess): Promise<void> => {
      await inspectors.get(p)?.close();
      if (p !== proxy) await p.stop();
    };
    if (!quick) await proxy.stop();
    if (only.has('idle')) {
      for (const tls of [false, true]) {
        const load = await quiet(`idle sessions (${tls ? 'TLS' : 'plaintext'})`);
        const p = await memoryProxy(tls ? 'idle-tls' : 'idle-plain');
        const r = await idleSessions(proxyTarget(world, p, LOGIN_USER, world.token, tls), p.pid, P.idleSessions, 32, collect(p));
        if (process.env.BENCH_HEAP_SNAPSHOT) {
          // With --proxy-node-args=--heapsnapshot-signal=SIGUSR2,--diagnostic-dir=DIR: what an idle session holds.
          process.kill(p.pid, 'SIGUSR2');
          await sleep(Number(process.env.BENCH_HEAP_SNAPSHOT) * 1000);
        }
        say(`idle ${tls ? 'TLS' : 'plain'}: ${r.sessions} sessions in ${(r.openMs / 1000).toFixed(1)} s, RSS ${r.rssBeforeKiB} -> ${r.rssAfterKiB} KiB, ${r.errors} errors${r.firstError ? ` (${r.firstError})` : ''}`);
        if (r.errors) say(`dovecot log tail:\n${(await world.backend.dovecotLog()).split('\n').filter((l) => /error|warn|fatal/i.test(l)).slice(-8).join('\n')}`);
        const raw = collect(p) ? `${r.rawKibPerSession.toFixed(1)} KiB without the GCs` : 'no GC forced';
        rows.push({ figure: `Proxy memory per idle session, ${tls ? 'TLS to the client' : 'plaintext'} (KiB, ${P.idleSessions} in IDLE)`, proxy: r.kibPerSession, digits: 1, target: tls ? '≤ 64 KiB' : '≤ 16 KiB', met: r.errors === 0 && r.kibPerSession <= (tls ? 64 : 16), load, note: r.errors ? `${r.errors} errors; ${raw}` : raw });
        r.close();
        await done(p);
        await sleep(quick ? 200 : 3000); // Dovecot's imap processes exit
      }
    }
    if (only.has('idle10k')) {
      const load = await quiet(`${P.manySessions} idle sessions`);
      const p = await memoryProxy('idle-many');
      const r = await idleSessions(proxyTarget(world, p, LOGIN_USER, world.token), p.pid, P.manySessions, 64, collect(p));
      say(`idle many: ${r.sessions} sessions in ${(r.openMs / 1000).toFixed(1)} s, RSS ${r.rssBeforeKiB} -> ${r.rssAfterKiB} KiB, ${r.errors} errors${r.firstError ? ` (${r.firstError})` : ''}`);
      rows.push({ figure: `Idle sessions in one proxy process: ${P.manySessions} opened, errors`, proxy: r.errors, digits: 0, target: '0 errors', met: r.errors === 0, load, note: `${r.kibPerSession.toFixed(1)} KiB each, opened in ${(r.openMs / 1000).toFixed(0)} s` });
      r.close();
      await done(p);
    }
  } finally {
    await Promise.allSettled([taps?.backend.stop(), taps?.idp.stop()]);
    for (const r of refs) r.f.stop();
    await Promise.allSettled(proxies.map((p) => p.stop()));
    await world.stop();
  }
  const header = [
    `oauth2-mail-proxy bench${quick ? ' (QUICK smoke run: numbers are meaningless)' : ''}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    `machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'} (${arch()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}, proxy build: ${build}`,
    `1-minute load average: ${startLoad.toFixed(2)} at start, ${Math.max(...loadSeen, startLoad).toFixed(2)} highest at a phase start, ${loadAvg1().toFixed(2)} at the end`,
    '',
  ];
  process.stdout.write(`${header.join('\n')}\n${formatTable(rows)}\n${phaseTable ? `\n${phaseTable}\n` : ''}`);
}

/** The DevTools URL a proxy started with --inspect printed (to its log file). */
async function inspectorUrl(logFile: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const m = /ws:\/\/\S+/.exec(await readFile(logFile, 'utf8').catch(() => ''));
    if (m) return m[0];
    await sleep(50);
  }
  throw new Error(`no inspector URL in ${logFile}`);
}

/** A forwarder measured beside the proxy; its rows read "<kind>: ... <what> ...". */
interface Reference {
  readonly kind: 'Floor' | 'Reference' | 'Peer';
  readonly what: string;
  readonly f: Forwarder;
  readonly note: string;
  /** The client logs in with PLAIN and its token as the password (nginx's auth_http); else the master login. */
  readonly plain?: boolean;
  /** The client logs in with OAUTHBEARER and its token, as through the proxy. */
  readonly oauth?: boolean;
  /** Measured for the login only (not FETCH: after the login it is the bare forwarder). */
  readonly loginOnly?: boolean;
  /** Also an implicit-TLS port (nginx): measured for the login over TLS beside the proxy's 993. */
  readonly tlsPort?: number;
}

/** Through a forwarder: the direct master login, or PLAIN with the user's token. */
function refTarget(w: BenchWorld, r: Reference, user: string, tls = false): LoginTarget {
  if (tls) return { ep: { port: r.tlsPort!, tlsCa: w.proxyCa }, auth: () => `PLAIN ${plainIr('', user, user === BULK_USER ? w.bulkToken : w.token)}` };
  if (r.oauth) return oauthTarget({ port: r.f.port }, user, user === BULK_USER ? w.bulkToken : w.token);
  if (!r.plain) return { ...directTarget(w, user), ep: { port: r.f.port } };
  const ir = plainIr('', user, user === BULK_USER ? w.bulkToken : w.token);
  return { ep: { port: r.f.port }, auth: () => `PLAIN ${ir}` };
}

async function phaseLogin(w: BenchWorld, p: ProxyProcess, refs: readonly Reference[], P: Params, rows: Row[], load: string): Promise<void> {
  say(`minting ${P.loginRounds} fresh tokens`);
  const fresh: string[] = [];
  for (let i = 0; i < P.loginRounds; i++) fresh.push(await w.idp.mintToken(LOGIN_USER));
  const cached = proxyTarget(w, p, LOGIN_USER, w.token);
  const direct = directTarget(w, LOGIN_USER);
  await loginLatency([direct, cached], Math.min(20, P.loginRounds)); // warm-up
  const [d, c, fr, ...viaRefs] = await loginLatency([direct, cached, proxyTarget(w, p, LOGIN_USER, fresh), ...refs.map((r) => refTarget(w, r, LOGIN_USER))], P.loginRounds) as [number[], number[], number[], ...number[][]];
  const dp50 = percentile(d, 50);
  const dp99 = percentile(d, 99);
  const n = `${P.loginRounds} each`;
  rows.push({ figure: 'Login p50, OAUTHBEARER, cached token (ms)', proxy: percentile(c, 50), direct: dp50, digits: 2, target: '≤ 1.10× direct', met: percentile(c, 50) <= 1.10 * dp50, load, note: n });
  rows.push({ figure: 'Login p99, OAUTHBEARER, cached token (ms)', proxy: percentile(c, 99), direct: dp99, digits: 2, load });
  rows.push({ figure: 'Login p50, OAUTHBEARER, fresh token (IdP userinfo) (ms)', proxy: percentile(fr, 50), direct: dp50, digits: 2, load });
  rows.push({ figure: 'Login p99, OAUTHBEARER, fresh token (ms)', proxy: percentile(fr, 99), direct: dp99, digits: 2, load });
  refs.forEach((r, i) => rows.push({ figure: `${r.kind}: login p50 through ${r.what} (ms)`, proxy: percentile(viaRefs[i]!, 50), direct: dp50, digits: 2, load, note: r.plain || r.oauth ? r.note : `master login; ${r.note}` }));
  // As clients log in: implicit TLS (993) to the proxy and to nginx (same certificate); direct is
  // Dovecot's own IMAPS. Both proxies talk plaintext to Dovecot, as in every other row.
  const tlsRefs = refs.filter((r) => r.tlsPort);
  const [dt, ct, ...viaTls] = await loginLatency([directTarget(w, LOGIN_USER, true), proxyTarget(w, p, LOGIN_USER, w.token, true), ...tlsRefs.map((r) => refTarget(w, r, LOGIN_USER, true))], P.loginRounds) as [number[], number[], ...number[][]];
  const dt50 = percentile(dt, 50);
  rows.push({ figure: 'Login p50 over TLS (implicit, 993), OAUTHBEARER, cached token (ms)', proxy: percentile(ct, 50), direct: dt50, digits: 2, load, note: 'direct: Dovecot\'s own IMAPS' });
  tlsRefs.forEach((r, i) => rows.push({ figure: `${r.kind}: login p50 over TLS through ${r.what} (ms)`, proxy: percentile(viaTls[i]!, 50), direct: dt50, digits: 2, load, note: 'implicit TLS, same certificate as the proxy' }));
}

async function phaseCpu(w: BenchWorld, p: ProxyProcess, refs: readonly Reference[], P: Params, rows: Row[], load: string): Promise<void> {
  const cached = proxyTarget(w, p, LOGIN_USER, w.token);
  const direct = directTarget(w, LOGIN_USER);
  const pr: number[] = []; const dr: number[] = []; const cpu: number[] = []; const refCpu = refs.map(() => [] as number[]);
  // The proxy is a long-running process: measure it once V8 has compiled its login path. Over
  // the first thousands of logins TurboFan keeps optimizing (--trace-opt: 250 functions in
  // logins 300-1,300, 86 in the next 1,000, 18-40 per 1,000 after 2,300), and a fresh process
  // spent 2.2-2.3 ms per login at first, 1.2-1.8 after 4,000 (test/bench/ab-logins.ts).
  const warm = await concurrentLogins(cached, 32, P.cpuLogins, p.pid);
  say(`CPU per login: warm-up round ${warm.cpuMsPerLogin!.toFixed(3)} ms`);
  for (let r = 0; r < P.cpuRounds; r++) {
    dr.push((await concurrentLogins(direct, 32, P.cpuLogins)).loginsPerS);
    const x = await concurrentLogins(cached, 32, P.cpuLogins, p.pid);
    pr.push(x.loginsPerS);
    cpu.push(x.cpuMsPerLogin!);
    for (const [i, ref] of refs.entries()) refCpu[i]!.push((await concurrentLogins(refTarget(w, ref, LOGIN_USER), 32, P.cpuLogins, ref.f.pids())).cpuMsPerLogin!);
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const cpuPerLogin = mean(cpu);
  rows.push({ figure: 'Proxy CPU per login, 32 concurrent clients, cached token (ms)', proxy: cpuPerLogin, digits: 3, target: '≤ 0.6 ms', met: cpuPerLogin <= 0.6, load, note: `${P.cpuLogins * P.cpuRounds} logins after ${P.cpuLogins} unmeasured (${warm.cpuMsPerLogin!.toFixed(2)} ms each)` });
  rows.push({ figure: 'Logins per second, 32 concurrent clients', proxy: median(pr), direct: median(dr), digits: 0, load });
  refs.forEach((r, i) => rows.push({ figure: `${r.kind}: CPU per login of ${r.what}, 32 concurrent clients (ms)`, proxy: mean(refCpu[i]!), digits: 3, load, note: r.plain ? 'accept, greeting, auth_http, dial, LOGIN, forward, close' : r.oauth ? 'accept, greeting, OAUTHBEARER, dial, ID + PLAIN, forward, close' : 'accept, dial, forward, close' }));
  // The same over implicit TLS, the login as users make it (the TLS handshake included).
  const tlsProxy = proxyTarget(w, p, LOGIN_USER, w.token, true);
  const tlsRefs = refs.filter((r) => r.tlsPort);
  await concurrentLogins(tlsProxy, 32, P.cpuLogins, p.pid); // warm-up of the TLS path
  const tlsCpu: number[] = []; const tlsRefCpu = tlsRefs.map(() => [] as number[]);
  for (let r = 0; r < P.cpuRounds; r++) {
    tlsCpu.push((await concurrentLogins(tlsProxy, 32, P.cpuLogins, p.pid)).cpuMsPerLogin!);
    for (const [i, ref] of tlsRefs.entries()) tlsRefCpu[i]!.push((await concurrentLogins(refTarget(w, ref, LOGIN_USER, true), 32, P.cpuLogins, ref.f.pids())).cpuMsPerLogin!);
  }
  rows.push({ figure: 'Proxy CPU per login over TLS (implicit, 993), 32 concurrent clients (ms)', proxy: mean(tlsCpu), digits: 3, load, note: 'TLS handshake included' });
  tlsRefs.forEach((r, i) => rows.push({ figure: `${r.kind}: CPU per login over TLS of ${r.what}, 32 concurrent clients (ms)`, proxy: mean(tlsRefCpu[i]!), digits: 3, load, note: 'implicit TLS, same certificate as the proxy' }));
}

async function phaseFetch(w: BenchWorld, p: ProxyProcess, allRefs: readonly Reference[], P: Params, rows: Row[], quiet: (what: string) => Promise<string>): Promise<void> {
  const refs = allRefs.filter((r) => !r.loginOnly);
  for (const tls of [false, true]) {
    const load = await quiet(`bulk FETCH (${tls ? 'TLS' : 'plaintext'})`);
    const dc = await fetchConnection(directTarget(w, BULK_USER, tls));
    const pc = await fetchConnection(proxyTarget(w, p, BULK_USER, w.bulkToken, tls));
    const viaRefs = tls ? [] : await Promise.all(refs.map((r) => fetchConnection(refTarget(w, r, BULK_USER))));
    try {
      const first = await fetchAll(dc); // warm-up: index, page cache, JIT
      await fetchAll(pc);
      for (const c of viaRefs) await fetchAll(c);
      const fl = viaRefs.map(() => [] as number[]); const flCpu = viaRefs.map(() => [] as number[]);
      const d: number[] = []; const pr: number[] = []; const cpu: number[] = [];
      const reads = { d: 0, p: 0 };
      const sys: number[] = [];
      for (let r = 0; r < P.fetchRounds; r++) {
        const x = r % 2 ? await fetchAll(pc, p.pid) : null;
        const z = await fetchAll(dc);
        d.push(z.mibPerS);
        reads.d += z.avgReadBytes / P.fetchRounds;
        const y = x ?? await fetchAll(pc, p.pid);
        if (Math.abs(y.bytes - first.bytes) > 256) throw new Error(`FETCH through the proxy returned ${y.bytes} bytes, directly ${first.bytes}`);
        pr.push(y.mibPerS);
        reads.p += y.avgReadBytes / P.fetchRounds;
        sys.push(y.sysShare!);
        cpu.push(y.cpuMsPerMiB!);
        for (const [i, c] of viaRefs.entries()) {
          const z2 = await fetchAll(c, refs[i]!.f.pids());
          fl[i]!.push(z2.mibPerS);
          flCpu[i]!.push(z2.cpuMsPerMiB!);
        }
      }
      say(`FETCH ${tls ? 'TLS' : 'plain'}: direct ${d.map((x) => x.toFixed(0)).join(' ')}, proxy ${pr.map((x) => x.toFixed(0)).join(' ')} MiB/s; client reads average ${(reads.d / 1024).toFixed(1)} KiB direct, ${(reads.p / 1024).toFixed(1)} KiB through the proxy; proxy CPU ${(median(sys) * 100).toFixed(0)}% in the kernel`);
      const mib = `${(first.bytes / 1048576).toFixed(0)} MiB × ${P.fetchRounds}`;
      const ratio = median(pr) / median(d);
      const cpuMib = median(cpu);
      rows.push({ figure: `FETCH 1:* BODY.PEEK[], ${tls ? 'TLS to the client' : 'plaintext'} (MiB/s)`, proxy: median(pr), direct: median(d), digits: 0, ...(tls ? {} : { target: '≥ 0.95× direct', met: ratio >= 0.95 }), load, note: mib });
      rows.push({ figure: `Proxy CPU per MiB fetched, ${tls ? 'TLS to the client' : 'plaintext'} (ms)`, proxy: cpuMib, digits: 3, ...(tls ? {} : { target: '≤ 0.3 ms', met: cpuMib <= 0.3 }), load });
      viaRefs.forEach((_, i) => {
        const r = refs[i]!;
        rows.push({ figure: `${r.kind}: FETCH through ${r.what}, plaintext (MiB/s)`, proxy: median(fl[i]!), direct: median(d), digits: 0, load, note: r.note });
        rows.push({ figure: `${r.kind}: CPU per MiB fetched of ${r.what} (ms)`, proxy: median(flCpu[i]!), digits: 3, load });
      });
    } finally {
      dc.close();
      pc.close();
      for (const c of viaRefs) c.close();
    }
  }
}

/**
 * SMTP submission, stock and with plaintext to Postfix. Stock: the proxy's STARTTLS to Postfix
 * (DMS requires TLS on 587) against a client's STARTTLS. The bound: a second proxy process with
 * DMS_SUBMISSION_TLS=none to a submission service that does not require TLS (an operator's
 * private network; all nginx's mail proxy can talk to its backend), against a client logging in
 * there without TLS. The four are measured in turn, each round in another order.
 */
async function phaseSmtp(w: BenchWorld, p: ProxyProcess, plainLegProxy: ProxyProcess | (() => Promise<ProxyProcess>), P: Params, rows: Row[], quiet: (what: string) => Promise<string>): Promise<void> {
  const plainLeg = typeof plainLegProxy === 'function' ? await plainLegProxy() : plainLegProxy;
  try {
    for (const [size, perClient, label] of [[1024, P.smtpSmall, '1 KiB'], [1048576, P.smtpLarge, '1 MiB']] as const) {
      const load = await quiet(`SMTP ${label}`);
      const message = messageOf(size);
      const open = async (proxy: ProxyProcess, side: SmtpSide) => Promise.all(Array.from({ length: 8 }, () => smtpSession(w, proxy, side)));
      const kinds = [
        { name: 'direct', sessions: await open(p, 'direct'), rates: [] as number[], cpu: [] as number[] },
        { name: 'proxy', sessions: await open(p, 'proxy'), pid: p.pid, rates: [] as number[], cpu: [] as number[] },
        { name: 'direct plaintext', sessions: await open(plainLeg, 'direct-plain'), rates: [] as number[], cpu: [] as number[] },
        { name: 'proxy plaintext leg', sessions: await open(plainLeg, 'proxy'), pid: plainLeg.pid, rates: [] as number[], cpu: [] as number[] },
      ];
      try {
        for (const k of kinds) await submitRate(k.sessions, message, 1); // warm-up
        for (let r = 0; r < P.smtpRounds; r++) {
          for (let i = 0; i < kinds.length; i++) {
            const k = kinds[(i + r) % kinds.length]!;
            const c0 = k.pid === undefined ? 0 : cpuPreciseMs(k.pid);
            k.rates.push(await submitRate(k.sessions, message, perClient));
            if (k.pid !== undefined) k.cpu.push((cpuPreciseMs(k.pid) - c0) / (8 * perClient));
          }
        }
        const [d, pr, dp, pp] = kinds.map((k) => median(k.rates)) as [number, number, number, number];
        say(`SMTP ${label}: ${kinds.map((k) => `${k.name} ${k.rates.map((x) => x.toFixed(1)).join('/')}`).join(', ')}`);
        const note = `${8 * perClient} × ${P.smtpRounds}`;
        rows.push({ figure: `SMTP submission, ${label} messages, 8 clients (messages/s)`, proxy: pr, direct: d, digits: 1, target: '≥ 0.9× direct', met: pr / d >= 0.9, load, note });
        rows.push({ figure: `Proxy CPU per ${label} message submitted (ms)`, proxy: median(kinds[1]!.cpu), digits: 3, load, note: 'TLS to Postfix is the proxy\'s' });
        rows.push({ figure: `SMTP submission, plaintext to Postfix, ${label} messages, 8 clients (messages/s)`, proxy: pp, direct: dp, digits: 1, load, note: `${note}; DMS_SUBMISSION_TLS=none to a submission service without TLS required, direct: AUTH without TLS; proxy ${(pp / d).toFixed(2)}× direct STARTTLS` });
        rows.push({ figure: `Proxy CPU per ${label} message submitted, plaintext to Postfix (ms)`, proxy: median(kinds[3]!.cpu), digits: 3, load });
      } finally {
        for (const k of kinds) k.sessions.forEach((s) => s.close());
      }
    }
  } finally {
    await plainLeg.stop();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});

interface PhaseTaps { readonly backend: TapRelay; readonly idp: TapRelay; readonly proxyEnv: Record<string, string> }

async function startPhaseTaps(w: BenchWorld): Promise<PhaseTaps> {
  const backend = await startTapRelay(w.backend.imapPort);
  const idpUrl = new URL(w.idp.userinfoUrl);
  const idp = await startTapRelay(Number(idpUrl.port));
  idpUrl.port = String(idp.port);
  return { backend, idp, proxyEnv: { DMS_IMAP_PORT: String(backend.port), OAUTH2_INTROSPECTION_URL: idpUrl.toString() } };
}

/**
 * The login-phase table: direct, direct through the timestamping relay (what the relay itself
 * adds), the proxy with a cached and with a fresh token, the lean Node login, and nginx, each backend leg through the
 * relay. The proxy is a process of its own whose Dovecot and IdP addresses are the relays.
 */
async function phaseBreakdown(w: BenchWorld, taps: PhaseTaps, nginx: NginxMail | undefined, P: Params, proxyViaTaps: ProxyProcess | (() => Promise<ProxyProcess>), load: string): Promise<string> {
  // A proxy started here is stopped here; the quick run's main proxy is not.
  const p = typeof proxyViaTaps === 'function' ? await proxyViaTaps() : proxyViaTaps;
  let lean: Forwarder | null = null;
  try {
    say(`minting ${P.phaseLogins} fresh tokens`);
    const fresh: string[] = [];
    for (let i = 0; i < P.phaseLogins; i++) fresh.push(await w.idp.mintToken(LOGIN_USER));
    const direct = directTarget(w, LOGIN_USER);
    const backendTap = taps.backend;
    const targets: PhaseTarget[] = [
      { name: 'Direct', target: direct },
      { name: 'Direct via relay', target: { ...direct, ep: { port: backendTap.port } }, backendTap },
      { name: 'Proxy, cached token', target: proxyTarget(w, p, LOGIN_USER, w.token), backendTap },
      { name: 'Proxy, fresh token', target: proxyTarget(w, p, LOGIN_USER, fresh), backendTap, idpTap: taps.idp },
    ];
    // The same job in the least Node code (lean-login.ts): per phase, what Node itself needs
    // for it, between the proxy's figure and nginx's (docs/performance.md, issue 21).
    lean = await startLeanLogin(backendTap.port, w.backend.dir, w.backend.master, { [w.token]: LOGIN_USER });
    targets.push({ name: 'Lean Node login', target: oauthTarget({ port: lean.port }, LOGIN_USER, w.token), backendTap });
    if (nginx) {
      await nginx.setBackendPort(backendTap.port);
      const ir = plainIr('', LOGIN_USER, w.token);
      targets.push({ name: 'nginx + auth_http', target: { ep: { port: nginx.port }, auth: () => `PLAIN ${ir}` }, backendTap, authTimings: () => nginx.authTimings() });
    }
    // Warm-up (JIT, the token cache, Dovecot's login processes); the fresh tokens stay unused.
    await loginPhases(targets.filter((t) => t.name !== 'Proxy, fresh token'), Math.min(10, P.phaseLogins));
    const table = await loginPhases(targets, P.phaseLogins, say);
    return `${formatPhaseTable(table)}\n\nPhase breakdown: load ${load} at its start; every backend leg (and the fresh token's IdP call) goes through a timestamping relay in the bench process.`;
  } finally {
    await nginx?.setBackendPort(w.backend.imapPort);
    lean?.stop();
    if (p !== proxyViaTaps) await p.stop();
  }
}
