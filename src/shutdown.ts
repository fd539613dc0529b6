// Graceful shutdown on SIGTERM/SIGINT (Kubernetes sends SIGTERM, then SIGKILL after
// terminationGracePeriodSeconds): readiness goes false, the listeners stop accepting,
// sessions before login are closed politely, logged-in sessions get SHUTDOWN_GRACE_SECONDS
// to reach a safe point (IMAP: `* BYE` once quiet; SMTP: 421 between transactions, never
// inside DATA), then whatever is left is closed. A second signal closes everything now.
import type { Logger } from './observability/logger.js';

export interface Drainable {
  /** Graceful: returns once every session has ended (at the latest shortly after `graceMs`). */
  shutdown(graceMs: number): Promise<void>;
  /** Immediate. */
  close(): Promise<void>;
}

/** Resolves once `done()` is true or at `deadline` (epoch ms), polling every 100 ms. */
export async function until(done: () => boolean, deadline: number): Promise<void> {
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, Math.min(100, Math.max(1, deadline - Date.now()))));
}

/** Waits for `p`, but no longer than `ms`: a peer that never closes must not hold a shutdown. */
export async function bounded(p: Promise<unknown>, ms = 3000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((r) => { timer = setTimeout(r, ms); timer.unref(); })]);
  clearTimeout(timer);
}

/** Waits for the first SIGTERM/SIGINT, shuts down, and resolves with the exit code (0). */
export function shutdownOnSignal(server: Drainable, graceMs: number, log: Logger): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ event: 'shutdown', signal, graceMs: 0 }, 'second signal: closing every session now');
        void server.close();
        return;
      }
      stopping = true;
      log.info({ event: 'shutdown', signal, graceMs }, 'shutting down');
      const started = Date.now();
      server.shutdown(graceMs).then(
        () => {
          log.info({ event: 'shutdown-complete', durationMs: Date.now() - started }, 'shut down');
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          resolve(0);
        },
        (err: Error) => {
          log.error({ event: 'internal-error', err: err.message }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
