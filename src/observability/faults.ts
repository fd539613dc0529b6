// A bug in the code that serves one connection ends that connection, never the process
// (issue 16): each listener catches what its own callbacks throw, reports it here once
// (an error line and oauth2_mail_proxy_internal_errors_total) and closes the connection.
// What still escapes every listener reaches the process-level handlers installed by the
// CLI: logged and counted, and the process keeps serving everyone else.
import type { Logger } from './logger.js';
import { metrics } from './metrics.js';

export type FaultSite = 'imap' | 'smtp' | 'pop3' | 'managesieve' | 'scim' | 'http' | 'portal' | 'process';

/** What a fault says, cut to `maxChars`: for a log line or a failure's reason (errors never carry a secret). */
export const faultMessage = (err: unknown, maxChars = 500): string => (err instanceof Error ? err.message : String(err)).slice(0, maxChars);
// The innermost frames say where the bug is; the message alone rarely does.
const frames = (err: unknown): string | undefined => (err instanceof Error ? err.stack?.split('\n').slice(1, 4).map((l) => l.trim()).join(' | ') : undefined);

/** Logs and counts one fault caught at `site`; `where` names the callback that threw. */
export function reportFault(log: Logger, site: FaultSite, where: string, err: unknown): void {
  metrics.internalErrors.inc({ listener: site });
  log.error({ event: 'internal-error', site, where, err: faultMessage(err), at: frames(err) }, 'internal error: the connection was ended');
}

/**
 * `fn`, made safe to hand to an event emitter or timer: a throw goes to `onFault` instead of
 * up the emitter (where it would be an uncaught exception and end the process).
 */
export function contained<A extends unknown[]>(fn: (...args: A) => void, onFault: (err: unknown) => void): (...args: A) => void {
  return (...args: A): void => {
    try {
      fn(...args);
    } catch (err) {
      try {
        onFault(err);
      } catch {
        // the fault handler itself failed: nothing more can be done for this connection
      }
    }
  };
}

/** Process-level last resort (src/cli.ts): log and count, keep running. */
export function guardProcess(log: Logger, proc: NodeJS.EventEmitter = process): () => void {
  const onRejection = (reason: unknown): void => {
    metrics.internalErrors.inc({ listener: 'process' });
    log.error({ event: 'internal-error', site: 'process', where: 'unhandledRejection', err: faultMessage(reason), at: frames(reason) }, 'unhandled promise rejection (kept running)');
  };
  const onException = (err: unknown): void => {
    metrics.internalErrors.inc({ listener: 'process' });
    log.error({ event: 'internal-error', site: 'process', where: 'uncaughtException', err: faultMessage(err), at: frames(err) }, 'uncaught exception (kept running)');
  };
  proc.on('unhandledRejection', onRejection);
  proc.on('uncaughtException', onException);
  return () => {
    proc.off('unhandledRejection', onRejection);
    proc.off('uncaughtException', onException);
  };
}
