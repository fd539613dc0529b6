// Leak and crash checks shared by the reliability tests: open descriptor counts (read from
// /proc/self/fd, the proxy runs in this process), and recorders for unhandled rejections
// and uncaught exceptions that would otherwise crash (or be hidden from) the test run.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Open file descriptors of this process right now. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** What an fd listing shows, for the failure message (sockets, pipes, files). */
export function fdSummary(): string {
  const kinds = new Map<string, number>();
  for (const fd of readdirSync('/proc/self/fd')) {
    let target = '?';
    try { target = readlinkSync(`/proc/self/fd/${fd}`); } catch { /* closed meanwhile */ }
    const kind = target.replace(/\[\d+\]$/, '').replace(/^\/.*/, 'file');
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return [...kinds].map(([k, n]) => `${k}×${n}`).join(' ');
}

/**
 * Waits (bounded) until the descriptor count is back at or below `baseline`; returns the
 * last count seen. Sockets closed by either side need a few ticks to be released.
 */
export async function settleFds(baseline: number, timeoutMs = 3000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let n = fdCount();
  while (n > baseline && Date.now() < deadline) {
    await sleep(25);
    n = fdCount();
  }
  return n;
}

export interface CrashRecorder {
  readonly unhandled: unknown[];
  readonly uncaught: unknown[];
  /** Human-readable list of what fired, empty when nothing did. */
  describe(): string;
  dispose(): void;
}

/** Records unhandledRejection / uncaughtException for the test file to assert on. */
export function recordCrashes(): CrashRecorder {
  const unhandled: unknown[] = [];
  const uncaught: unknown[] = [];
  const onRejection = (reason: unknown): void => { unhandled.push(reason); };
  const onException = (err: unknown): void => { uncaught.push(err); };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  const text = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e));
  return {
    unhandled,
    uncaught,
    describe: () => [...unhandled.map((e) => `unhandledRejection ${text(e)}`), ...uncaught.map((e) => `uncaughtException ${text(e)}`)].join('\n'),
    dispose() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

/**
 * Open TCP connections of this process (not listeners) with a local or remote port in
 * `ports`: the proxy's client-facing and backend-facing sockets, told apart from the test's
 * own keep-alive connections to the IdP. Read from /proc/net/tcp{,6} via socket inodes.
 */
export function connectionsOn(ports: readonly number[]): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch { /* closed meanwhile */ }
  }
  const wanted = new Set(ports);
  let n = 0;
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text = '';
    try { text = readFileSync(table, 'latin1'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] === '0A' || !inodes.has(f[9]!)) continue; // 0A: LISTEN
      const port = (addr: string): number => Number.parseInt(addr.split(':')[1] ?? '0', 16);
      if (wanted.has(port(f[1]!)) || wanted.has(port(f[2]!))) n += 1;
    }
  }
  return n;
}

/** Waits (bounded) until connectionsOn(ports) is at most `max`; returns the last count. */
export async function settleConnections(ports: readonly number[], max = 0, timeoutMs = 3000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let n = connectionsOn(ports);
  while (n > max && Date.now() < deadline) {
    await sleep(25);
    n = connectionsOn(ports);
  }
  return n;
}
