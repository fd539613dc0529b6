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

/**
 * SIGHUP is "reload" to every mail daemon (Dovecot, Postfix) and what certificate renewal
 * hooks send; Node's default for it ends the process on the spot, every session cut without
 * the grace above. So it checks the certificate files now (as the TLS_RELOAD_INTERVAL_SECONDS
 * poll does: only changed ones are loaded, a broken one keeps the old in use) and nothing
 * else. `certificates` is asked at each signal: null before start-up is done, or without TLS.
 * Returns the function that removes the handler.
 */
export function reloadOnHangup(certificates: () => { reloadChanged(): number } | null, log: Logger): () => void {
  const onHangup = (): void => {
    const store = certificates();
    const replaced = store ? store.reloadChanged() : 0;
    log.info({ event: 'reload', signal: 'SIGHUP', certificatesReplaced: replaced }, store ? 'SIGHUP: certificate files checked' : 'SIGHUP: no certificates to reload');
  };
  process.on('SIGHUP', onHangup);
  return () => { process.off('SIGHUP', onHangup); };
}
