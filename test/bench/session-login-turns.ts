// The session's side of an IMAP login (issue 21, round six): an ImapSession built as the IMAP
// service builds it (real TokenChecker with a warm cache, LoginGuard, Authenticator, the
// plaintext backend login of backend/targets.ts against fake-imap-backend.ts in its own
// process), and a raw client socket in this process. Counts with async_hooks what the process
// creates and runs between the client's `AUTHENTICATE OAUTHBEARER` (SASL-IR) write and its
// read of the tagged OK: promises and their reactions, immediates, ticks, timers. The
// client and the counting create nothing themselves (callbacks only); socket wraps (TCPWRAP,
// WRITEWRAP, ...) are listed too. backend-login-turns.ts counts the backend login alone.
// Also: µs from the AUTHENTICATE write to the OK read, median of the first 20 (cold) and of
// LOGINS warm ones (includes the fake Dovecot's round trip in another process).
// Usage: [CPU=ROUNDS [AB=SRC_DIR]] node --import tsx test/bench/session-login-turns.ts [LOGINS] [SRC_DIR]
//   SRC_DIR: a compiled build's src (e.g. /tmp/base/src) to A/B against; default this tree's src.
import net from 'node:net';
import { createHook } from 'node:async_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
import { startFakeImapBackend } from './fake-imap-backend.js';
import { loginLatency, oauthTarget } from './imap-phases.js';

const LOGINS = Number(process.argv[2] ?? 2000);
const USER = 'alice@example.test';
const TOKEN = 'tok-0123456789abcdef0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'o2mp-turns-'));
const fake = await startFakeImapBackend(dir);

/** An IMAP listener of the build in `src` (a compiled build's src, or undefined: this tree's). */
async function sessionServer(src: string | undefined): Promise<{ port: number; close(): void }> {
  const srcDir = src ? resolve(src) : join(import.meta.dirname, '..', '..', 'src');
  const ext = src ? '.js' : '.ts';
  const mod = async <T>(path: string): Promise<T> => await import(pathToFileURL(join(srcDir, `${path}${ext}`)).href) as T;
  const { ImapSession } = await mod<typeof import('../../src/imap/session.js')>('imap/session');
  const { Authenticator } = await mod<typeof import('../../src/auth/authenticator.js')>('auth/authenticator');
  const { TokenChecker } = await mod<typeof import('../../src/auth/token-check.js')>('auth/token-check');
  const { LoginGuard } = await mod<typeof import('../../src/auth/login-guard.js')>('auth/login-guard');
  const { imapLogin, imapLoginTo } = await mod<typeof import('../../src/backend/imap-login.js')>('backend/imap-login');
  const { imapIdLine } = await mod<typeof import('../../src/backend/imap-id.js')>('backend/imap-id');
  const { saslPlainFor } = await mod<typeof import('../../src/backend/targets.js')>('backend/targets');
  const { backendTlsOptions } = await mod<typeof import('../../src/backend/dial.js')>('backend/dial');
  const { createLogger } = await mod<typeof import('../../src/observability/logger.js')>('observability/logger');
  type Who = Parameters<typeof saslPlainFor>[0];
  type Client = Parameters<typeof imapIdLine>[0];

  const checker = new TokenChecker({ check: () => Promise.resolve({ status: 'valid' as const, issuer: 'https://idp.example.test', mode: 'auth' as const, user: USER, claim: 'email', evidence: {} }) }, { ttlSeconds: 3600, negativeSeconds: 30, maxEntries: 1000 }, undefined);
  const master = { user: 'proxy', password: 'master-secret' };
  const imapAt = { host: '127.0.0.1', port: fake.port, tls: 'none' as const, tlsOptions: backendTlsOptions({ tlsVerify: false, caFile: null, servername: 'localhost' }), timeoutMs: 5000, proxyProtocol: false };
  const live = new Set<{ cut(text: string): void }>();
  const deps = {
    limits: { maxLineBytes: 8192, maxLiteralBytes: 65536, maxBadCommands: 10, preauthTimeoutMs: 60_000, idleTimeoutMs: 60_000 },
    allowPlaintextAuth: true,
    tlsContext: null,
    login: {
      authenticator: new Authenticator(checker),
      guard: new LoginGuard({ windowMs: 600_000, maxPerIp: 100_000, maxPerUser: 100_000, blockMs: 60_000, delayMs: 0, delayMaxMs: 0, ipv6PrefixBits: 64 }),
      backend: (who: Who, client: Client) => imapLogin(imapAt, client, saslPlainFor(who, master), imapIdLine(client, false)),
      // As backend/targets.ts builds `imapCall` for the IMAP service (a build without it ignores it).
      backendCall: imapLoginTo && ((who: Who, client: Client, sink: never) => imapLoginTo(imapAt, client, saslPlainFor(who, master), imapIdLine(client, false), sink)),
    },
    // Silent: the login's log lines are the observability lane's (they wait for a setImmediate).
    log: createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() })),
    loggedIn: () => undefined,
    onEnd: (h: { cut(text: string): void }) => live.delete(h),
    onSpliced: (session: { cut(text: string): void }, handle: { cut(text: string): void }) => { if (live.delete(session)) live.add(handle); },
  };
  const server = net.createServer({ noDelay: true }, (s) => {
    const session = new ImapSession(s, false, deps as never);
    live.add(session);
    session.start();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => { for (const h of live) h.cut('bye'); server.close(); },
  };
}

const servers = [await sessionServer(process.argv[3])];
if ((process.env.CPU || process.env.LAT) && process.env.AB) servers.push(await sessionServer(process.env.AB));
let port = servers[0]!.port;
const stop = (): void => {
  for (const s of servers) s.close();
  fake.stop();
  rmSync(dir, { recursive: true, force: true });
};

const ir = Buffer.from(`n,a=${USER},\x01auth=Bearer ${TOKEN}\x01\x01`).toString('base64');
const AUTH = `a AUTHENTICATE OAUTHBEARER ${ir}\r\n`;

let counting = false;
// TRACE=1: the stacks that created each non-promise resource; TRACE=all: of promises too.
const TRACE = process.env.TRACE;
const traces: string[] = [];
const counts = new Map<string, number>();
const types = new Map<number, string>();
const bump = (k: string): void => { counts.set(k, (counts.get(k) ?? 0) + 1); };
const hook = createHook({
  init(id, type) {
    types.set(id, type);
    if (counting) {
      bump(`new ${type}`);
      if (TRACE && type !== 'PROMISE' || TRACE === 'all') traces.push(`${type}${new Error().stack!.split('\n').slice(2, 9).join('\n')}`);
    }
  },
  before(id) {
    if (counting) bump(`run ${types.get(id) ?? '?'}`);
  },
});

/** One login: connect, greeting, AUTHENTICATE; resolves with the µs from its write to the OK, the client socket open. */
function one(count: boolean): Promise<{ us: number; socket: net.Socket }> {
  return new Promise((done, fail) => {
    const c = net.connect({ port, host: '127.0.0.1', noDelay: true });
    let buf = '';
    let sentAt = 0;
    c.on('error', fail);
    c.setEncoding('latin1');
    c.on('data', (d: string) => {
      buf += d;
      if (!sentAt && buf.includes('\r\n')) {
        if (!buf.startsWith('* OK')) return fail(new Error(`greeting: ${buf}`));
        buf = '';
        counting = count;
        sentAt = performance.now();
        c.write(AUTH);
      } else if (sentAt && buf.includes('\r\n')) {
        const us = (performance.now() - sentAt) * 1000;
        // The proxy wrote the OK in an earlier poll phase; its setImmediate (the login's
        // bookkeeping) and nextTicks ran before this read.
        counting = false;
        if (!buf.startsWith('a OK')) return fail(new Error(`login: ${buf}`));
        done({ us, socket: c });
      }
    });
  });
}

const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** CPU µs of this process (proxy side and client) per login, `n` logins `concurrency` at a time. */
async function cpuPerLogin(n: number, concurrency: number): Promise<number> {
  let next = 0;
  const start = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < n) (await one(false)).socket.destroy();
  }));
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

// LAT=ROUNDS: sequential login cycles (connect, AUTHENTICATE, LOGOUT through the splice: as
// ab-logins.ts times them), the builds taking turns; the p50 of each.
if (process.env.LAT) {
  try {
    const targets = servers.map((s) => oauthTarget({ port: s.port }, USER, TOKEN));
    const lat = await loginLatency(targets, 30); // warm-up
    lat.forEach((xs) => xs.splice(0));
    for (const [i, xs] of (await loginLatency(targets, Number(process.env.LAT))).entries()) lat[i]!.push(...xs);
    const names = [process.argv[3] ?? 'this tree', process.env.AB];
    lat.forEach((xs, j) => console.log(`${names[j]}: login cycle p50 ${med(xs).toFixed(3)} ms (${xs.length})`));
  } finally {
    stop();
  }
  process.exit(0);
}

// CPU=ROUNDS: only CPU µs of this process per login, 32 concurrent, ROUNDS × LOGINS after a
// warm-up. AB=SRC_DIR: a second build in this process, its rounds alternating with the first's
// (same load for both; the client's share is the same in both).
if (process.env.CPU) {
  try {
    const rounds = servers.map(() => [] as number[]);
    for (let r = -1; r < Number(process.env.CPU); r++) {
      for (let k = 0; k < servers.length; k++) {
        const j = (r + k + servers.length) % servers.length;
        port = servers[j]!.port;
        const us = await cpuPerLogin(LOGINS, 32);
        if (r >= 0) rounds[j]!.push(us); // round -1: warm-up
      }
    }
    const names = [process.argv[3] ?? 'this tree', process.env.AB];
    rounds.forEach((xs, j) => console.log(`${names[j]}: cpu µs/login (this process), median of ${xs.length} × ${LOGINS}: ${med(xs).toFixed(1)} [${xs.map((x) => x.toFixed(1)).join(' ')}]`));
    if (rounds.length === 2) {
      const ratios = rounds[0]!.map((x, i) => x / rounds[1]![i]!);
      console.log(`first / second per round: median ${med(ratios).toFixed(3)}, first lower in ${ratios.filter((x) => x < 1).length} of ${ratios.length}`);
    }
  } finally {
    stop();
  }
  process.exit(0);
}

try {
  const cold: number[] = [];
  for (let i = 0; i < 20; i++) { const r = await one(false); cold.push(r.us); r.socket.destroy(); }
  for (let i = 0; i < LOGINS; i++) (await one(false)).socket.destroy(); // warm-up
  const warm: number[] = [];
  for (let i = 0; i < LOGINS; i++) { const r = await one(false); warm.push(r.us); r.socket.destroy(); }
  await new Promise((r) => setTimeout(r, 50));
  hook.enable(); // only now: promise hooks slow every promise
  const r = await one(true);
  hook.disable();
  r.socket.destroy();
  const list = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(`AUTHENTICATE written → OK read: cold (first 20) median ${med(cold).toFixed(1)} µs, warm median of ${LOGINS} ${med(warm).toFixed(1)} µs`);
  if (TRACE) console.log(traces.join('\n\n'));
  console.log(`promises created ${counts.get('new PROMISE') ?? 0}, promise reactions run ${counts.get('run PROMISE') ?? 0}; all: ${list || 'none'}`);
} finally {
  stop();
}
