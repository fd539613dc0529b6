// What the bench reads from /proc: a process's CPU time and resident memory, and how busy
// the machine is (other engineers' tests share these 2 cores).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);

/**
 * CPU time of every thread of `pid` in ms, in nanoseconds' resolution: the sum of
 * /proc/<pid>/task/<tid>/schedstat's first field. /proc/<pid>/stat counts in 10 ms ticks, too
 * coarse for one 64 MiB FETCH at ~0.5 ms per MiB.
 */
export function cpuPreciseMs(pids: number | readonly number[]): number {
  let ns = 0;
  for (const pid of typeof pids === 'number' ? [pids] : pids) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
      } catch { /* the thread ended meanwhile */ }
    }
  }
  return ns / 1e6;
}

/** user and system CPU time of `pids` in ms, separately. */
export function cpuSplitMs(pids: number | readonly number[]): { user: number; sys: number } {
  const t = { user: 0, sys: 0 };
  for (const pid of typeof pids === 'number' ? [pids] : pids) {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    t.user += Number(f[11]) * TICK_MS;
    t.sys += Number(f[12]) * TICK_MS;
  }
  return t;
}

/** VmRSS of `pid` in KiB. */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

export function loadAvg1(): number {
  return Number(readFileSync('/proc/loadavg', 'latin1').split(' ')[0]);
}

function cpuTotals(): { busy: number; all: number } {
  const f = readFileSync('/proc/stat', 'latin1').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const all = f.reduce((a, b) => a + b, 0);
  const idle = f[3]! + (f[4] ?? 0); // idle + iowait
  return { busy: all - idle, all };
}

/** Fraction of all cores busy over `ms` (0..1). */
export async function machineBusy(ms = 1000): Promise<number> {
  const a = cpuTotals();
  await sleep(ms);
  const b = cpuTotals();
  return b.all === a.all ? 0 : (b.busy - a.busy) / (b.all - a.all);
}

export interface Quiet { load1: number; busy: number; waitedMs: number }

/**
 * Waits, at most `maxWaitMs`, until the machine is quiet: 1-minute load below `maxLoad`, or
 * (since our own previous phase keeps the 1-minute average up for a while) less than
 * `maxBusy` of the cores busy right now. Returns what it saw last.
 */
export async function waitQuiet(maxWaitMs: number, maxLoad = 1.0, maxBusy = 0.25): Promise<Quiet> {
  const start = Date.now();
  for (;;) {
    const busy = await machineBusy(500);
    const load1 = loadAvg1();
    const waitedMs = Date.now() - start;
    if (load1 < maxLoad || busy < maxBusy || waitedMs >= maxWaitMs) return { load1, busy, waitedMs };
    await sleep(1000);
  }
}

/** This process's open-files limit (soft, hard), from /proc/self/limits. */
export function fdLimits(): { soft: number; hard: number } {
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'latin1'));
  const n = (x: string | undefined): number => (x === undefined || x === 'unlimited' ? Infinity : Number(x));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

/** Raises the open-files limit of this process (children inherit it) as far as allowed:
 *  above the hard limit only with CAP_SYS_RESOURCE. Returns the soft limit now in force. */
export function raiseFdLimit(n: number): number {
  const { hard } = fdLimits();
  const want = hard === Infinity || hard >= n ? n : hard;
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${want}:${Math.max(want, hard === Infinity ? want : hard)}`], { stdio: 'ignore' });
  } catch { /* keep what we have */ }
  return fdLimits().soft;
}
