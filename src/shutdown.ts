// Graceful shutdown on SIGTERM/SIGINT (Kubernetes sends SIGTERM, then SIGKILL after
// terminationGracePeriodSeconds): readiness goes false, the listeners stop accepting,
// sessions before login are closed politely, logged-in sessions get SHUTDOWN_GRACE_SECONDS
// to reach a safe point (IMAP: `* BYE` once quiet; SMTP: 421 between transactions, never
// inside DATA), then whatever is left is closed. A second signal closes everything now.
//
// The grace is a bound on the whole process, not on the sessions alone: Kubernetes'
// SIGKILL comes terminationGracePeriodSeconds after SIGTERM whatever we are doing. Sessions
// are cut CLOSE_RESERVE_MS before the grace ends, every wait after that is bounded by its
// end, and at its end the process exits whatever is still open.
import type { Logger } from './observability/logger.js';
import { CLOSE_RESERVE_MS } from './limits.js';

/** When sessions still open are cut (epoch ms), for a grace of `graceMs` ending at `endMs`. */
export function sessionDeadline(endMs: number, graceMs: number): number {
  return endMs - Math.min(CLOSE_RESERVE_MS, graceMs / 4);
}

export interface Drainable {
  /** Graceful: returns once every session has ended, by the end of `graceMs`. */
  shutdown(graceMs: number): Promise<void>;
  /** Immediate. */
  close(): Promise<void>;
}

export interface ShutdownDone {
  readonly code: number;
  /** The end of the grace (epoch ms): the process must be gone by then. */
  readonly graceEndMs: number;
}

export { bounded, until } from './session/waits.js';

/**
 * Waits for the first SIGTERM/SIGINT, shuts down, and resolves with the exit code (0) once
 * the shutdown is done or, at the latest, when the grace is over.
 */
export function shutdownOnSignal(server: Drainable, graceMs: number, log: Logger): Promise<ShutdownDone> {
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
      const graceEndMs = started + graceMs;
      let finished = false;
      const done = (code: number): boolean => {
        if (finished) return false;
        finished = true;
        clearTimeout(overtime);
        resolve({ code, graceEndMs });
        return true;
      };
      // Every step of server.shutdown() is bounded by the grace; this is the net under them.
      const overtime = setTimeout(() => {
        if (done(0)) log.warn({ event: 'shutdown-complete', durationMs: Date.now() - started, forced: true }, 'grace over: exiting with connections still closing');
      }, graceMs);
      overtime.unref();
      server.shutdown(graceMs).then(
        () => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          if (done(0)) log.info({ event: 'shutdown-complete', durationMs: Date.now() - started }, 'shut down');
        },
        (err: Error) => {
          if (done(1)) log.error({ event: 'internal-error', err: err.message }, 'shutdown failed');
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
