// Shutdown for spliced SMTP sessions: follow each one with a SmtpTransactionTracker and,
// when asked to drain, close it at the first point between transactions: `421 4.3.2` to the
// client (RFC 5321 §3.8), QUIT to Postfix. A transaction still open at the deadline is cut;
// Postfix then discards the unfinished message and the client, which got no 250, sends it
// again: nothing is lost, nothing is sent twice.
import type { Socket } from 'node:net';
import type { Splice, SpliceEnd } from '../net/splice.js';
import { SmtpTransactionTracker } from './transaction-tracker.js';

export const SHUTDOWN_REPLY = '421 4.3.2 Service shutting down, please reconnect\r\n';
/** To a user disabled (SCIM) while connected: no retry will succeed. */
export const REVOKED_REPLY = '421 4.7.0 Account disabled, closing connection\r\n';

export interface SplicedSmtp {
  /** Closes now (both sides). */
  close(): void;
  /** Closes between transactions with `reply` (421), or at `deadline` (epoch ms) at the latest. */
  drain(deadline: number, reply?: string, why?: SpliceEnd): void;
}

/** `early`: what the client pipelined behind AUTH, already written to the backend. */
export function trackSplicedSmtp(client: Socket, backend: Socket, splice: Splice, early: Buffer = Buffer.alloc(0)): SplicedSmtp {
  const tracker = new SmtpTransactionTracker();
  if (early.length) tracker.fromClient(early); // MAIL or DATA may be open already
  // Registered after splice()'s pipes, so a reply reaches the client before any 421.
  client.on('data', (chunk: Buffer) => tracker.fromClient(chunk));
  backend.on('data', (chunk: Buffer) => tracker.fromServer(chunk));
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
        setTimeout(() => splice.close(why), 2000).unref();
      });
    },
  };
}
