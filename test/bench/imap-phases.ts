// IMAP measurements: login latency, proxy CPU per login, bulk FETCH, idle-session memory.
// Proxy and direct runs are interleaved so that machine noise hits both alike.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuPreciseMs, cpuSplitMs, rssKiB } from './proc.js';
import { oauthbearerIr, plainIr, Wire, type Endpoint } from './wire.js';
import { BULK_USER, LOGIN_USER, type BenchWorld, type ProxyProcess } from './env.js';

export interface LoginTarget {
  readonly ep: Endpoint;
  /** AUTHENTICATE arguments (mechanism and initial response). */
  auth(i: number): string;
}

export function directTarget(w: BenchWorld, user: string, tlsCa = false): LoginTarget {
  const m = w.backend.master;
  const ir = plainIr(user, m.user, m.password); // master login, as the proxy does it
  return {
    ep: tlsCa ? { port: w.backend.imapsPort, tlsCa: w.backendCa } : { port: w.backend.imapPort },
    auth: () => `PLAIN ${ir}`,
  };
}

export function proxyTarget(w: BenchWorld, p: ProxyProcess, user: string, tokens: string | readonly string[], tlsCa = false): LoginTarget {
  return oauthTarget(tlsCa ? { port: p.imapsPort, tlsCa: w.proxyCa } : { port: p.imapPort }, user, tokens);
}

/** AUTHENTICATE OAUTHBEARER with `tokens` (taking turns) at `ep`. */
export function oauthTarget(ep: Endpoint, user: string, tokens: string | readonly string[]): LoginTarget {
  const irs = (typeof tokens === 'string' ? [tokens] : tokens).map((t) => oauthbearerIr(user, t));
  return { ep, auth: (i) => `OAUTHBEARER ${irs[i % irs.length]}` };
}

/** Connect, greeting, AUTHENTICATE; the open, logged-in connection. */
export async function login(t: LoginTarget, i = 0, localAddress?: string): Promise<Wire> {
  const w = await Wire.connect(localAddress ? { ...t.ep, localAddress } : t.ep);
  try {
    await w.line('* ');
    await w.command('a', `AUTHENTICATE ${t.auth(i)}`);
    return w;
  } catch (e) {
    w.close();
    throw e;
  }
}

/** One connect + login + LOGOUT, in ms. */
export async function loginCycle(t: LoginTarget, i: number): Promise<number> {
  const start = performance.now();
  const w = await login(t, i);
  await w.command('z', 'LOGOUT');
  const ms = performance.now() - start;
  w.close();
  return ms;
}

/** Sequential login cycles, the targets taking turns (the order rotates every round). */
export async function loginLatency(targets: readonly LoginTarget[], rounds: number): Promise<number[][]> {
  const out = targets.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < targets.length; k++) {
      const j = (r + k) % targets.length;
      out[j]!.push(await loginCycle(targets[j]!, r));
    }
  }
  return out;
}

export async function pool(concurrency: number, count: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

export interface ConcurrentLogins { loginsPerS: number; cpuMsPerLogin: number | null }

/** `count` login cycles by `concurrency` clients; with `pid`, those processes' CPU per login. */
export async function concurrentLogins(t: LoginTarget, concurrency: number, count: number, pid?: number | readonly number[]): Promise<ConcurrentLogins> {
  const cpu0 = pid ? cpuPreciseMs(pid) : 0;
  const start = performance.now();
  await pool(concurrency, count, async (i) => { await loginCycle(t, i); });
  const s = (performance.now() - start) / 1000;
  return { loginsPerS: count / s, cpuMsPerLogin: pid ? (cpuPreciseMs(pid) - cpu0) / count : null };
}

export interface FetchRun { mibPerS: number; bytes: number; cpuMsPerMiB: number | null; sysShare: number | null; avgReadBytes: number }

/** A logged-in, selected connection for repeated bulk FETCH. */
export async function fetchConnection(t: LoginTarget): Promise<Wire> {
  const w = await login(t);
  await w.command('s', 'EXAMINE INBOX', 60_000);
  return w;
}

let fetchTag = 0;
export async function fetchAll(w: Wire, pid?: number | readonly number[]): Promise<FetchRun> {
  const cpu0 = pid ? cpuSplitMs(pid) : { user: 0, sys: 0 };
  const precise0 = pid ? cpuPreciseMs(pid) : 0;
  const reads0 = w.bulkReads;
  const start = performance.now();
  const bytes = await w.bulkCommand(`f${++fetchTag}`, 'FETCH 1:* BODY.PEEK[]');
  const s = (performance.now() - start) / 1000;
  const mib = bytes / 1048576;
  const cpu1 = pid ? cpuSplitMs(pid) : cpu0;
  const precise = pid ? cpuPreciseMs(pid) - precise0 : 0;
  const used = cpu1.user - cpu0.user + cpu1.sys - cpu0.sys;
  return { mibPerS: mib / s, bytes, cpuMsPerMiB: pid ? precise / mib : null, sysShare: pid && used > 0 ? (cpu1.sys - cpu0.sys) / used : null, avgReadBytes: bytes / (w.bulkReads - reads0) };
}

export { BULK_USER, LOGIN_USER };

export interface IdleResult {
  sessions: number;
  errors: number;
  firstError?: string;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  kibPerSession: number;
  /** The same without collecting garbage first (when `collect` was given): GC timing included. */
  rawKibPerSession: number;
  openMs: number;
}

/**
 * Opens `n` logged-in sessions in IDLE through a fresh proxy process and reads its resident
 * memory before and after. Client addresses are spread over 127.1.x.y, so per-IP limits see
 * many clients (the proxy passes each address to Dovecot with ID).
 */
export async function idleSessions(t: LoginTarget, pid: number, n: number, concurrency = 32, collect?: () => Promise<void>): Promise<IdleResult & { close: () => void }> {
  // Warm-up, at the same concurrency, before the baseline is read: code compiled, and V8's
  // young generation grown to what a login burst needs (up to 3 × 16 MiB semi-spaces), so
  // that growth, a per-process cost, is not counted per session.
  await pool(concurrency, Math.min(n, 500), async (i) => { await loginCycle(t, i); });
  await sleep(1500);
  const rawBeforeKiB = rssKiB(pid);
  await collect?.();
  const rssBeforeKiB = rssKiB(pid);
  const open: Wire[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  await pool(concurrency, n, async (i) => {
    const addr = `127.1.${Math.floor(i / 250) % 250}.${(i % 250) + 1}`;
    try {
      const w = await login(t, i, addr);
      open.push(w);
      await w.command('s', 'SELECT INBOX');
      w.write('i IDLE\r\n');
      await w.line('+ ');
    } catch (e) {
      errors += 1;
      firstError ??= (e as Error).message;
    }
  });
  const openMs = performance.now() - start;
  await sleep(3000); // let the proxy settle (timers, GC)
  const stillOpen = open.filter((w) => !w.socket.destroyed).length;
  errors += open.length - stillOpen;
  const rawAfterKiB = rssKiB(pid);
  await collect?.();
  const rssAfterKiB = rssKiB(pid);
  const sessions = n - errors;
  return {
    sessions, errors, ...(firstError ? { firstError } : {}), rssBeforeKiB, rssAfterKiB, openMs,
    kibPerSession: (rssAfterKiB - rssBeforeKiB) / Math.max(1, sessions),
    rawKibPerSession: (rawAfterKiB - rawBeforeKiB) / Math.max(1, sessions),
    close: () => open.forEach((w) => w.close()),
  };
}
