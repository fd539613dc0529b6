// Shutdown for spliced SMTP sessions: follow each one with a SmtpTransactionTracker and,
// when asked to drain, close it at the first point between transactions: `421 4.3.2` to the
// client (RFC 5321 §3.8), QUIT to Postfix. A transaction still open at the deadline is cut;
// Postfix then discards the unfinished message and the client, which got no 250, sends it
// again: nothing is lost, nothing is sent twice.
import type { Socket } from 'node:net';
import { closeAfterFarewell } from '../session/drain.js';
import type { Splice, SpliceEnd } from '../net/splice.js';
import type { SmtpTransactionTracker } from './transaction-tracker.js';

export const SHUTDOWN_REPLY = '421 4.3.2 Service shutting down, please reconnect\r\n';
/** To a user disabled (SCIM) while connected: no retry will succeed. */
export const REVOKED_REPLY = '421 4.7.0 Account disabled, closing connection\r\n';
export const APP_PASSWORD_REVOKED_REPLY = '421 4.7.0 App password revoked, closing connection\r\n';

export interface SplicedSmtp {
  /** Closes now (both sides). */
  close(): void;
  /** Closes between transactions with `reply` (421), or at `deadline` (epoch ms) at the latest. */
  drain(deadline: number, reply?: string, why?: SpliceEnd): void;
}

/** `tracker` is fed by the splice's command guard (guarded-forward.ts) with what it passed on,
 *  each reply after it was written to the client, so a reply reaches the client before any 421. */
export function trackSplicedSmtp(client: Socket, backend: Socket, splice: Splice, tracker: SmtpTransactionTracker): SplicedSmtp {
  return {
    close: () => splice.close('shutdown'),
    drain(deadline, reply = SHUTDOWN_REPLY, why = 'shutdown') {
      const cut = setTimeout(() => splice.close(why), Math.max(0, deadline - Date.now()));
      cut.unref();
      tracker.whenIdle(() => {
        clearTimeout(cut);
        splice.stop(why);
        client.end(reply);
        backend.end('QUIT\r\n');
        closeAfterFarewell(splice, deadline, why);
      });
    },
  };
}
