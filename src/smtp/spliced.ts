// An SMTP session once logged in: the splice to Postfix, with every client byte (also what
// was pipelined behind AUTH) through the command guard, and the transaction tracker that
// shutdown and revocation use to close between transactions.
import type net from 'node:net';
import { handOver, type HandoverOptions } from '../session/handover.js';
import { reportFault } from '../observability/faults.js';
import { trackSplicedSmtp, type SplicedSmtp } from './drain.js';
import { guardedForward } from './guarded-forward.js';
import { SmtpTransactionTracker } from './transaction-tracker.js';

export type SplicedSmtpOptions = Omit<HandoverOptions, 'forward'>;

export function spliceSmtp(client: net.Socket, backend: { readonly socket: net.Socket; readonly leftover: Buffer }, early: Buffer, o: SplicedSmtpOptions): SplicedSmtp {
  const { log, user } = o;
  const tracker = new SmtpTransactionTracker();
  const refused = (command: string): void => log.warn({ event: 'command-refused', user, command }, 'client command refused after login');
  // `early` goes through the command guard, like every later byte.
  const s = handOver(client, backend.socket, backend.leftover, {
    idleTimeoutMs: o.idleTimeoutMs,
    log,
    user,
    mech: o.mech,
    startedAt: o.startedAt,
    onEnd: o.onEnd,
    forward: guardedForward(tracker, refused, (err) => reportFault(log, 'smtp', 'command guard', err), early),
  });
  return trackSplicedSmtp(client, backend.socket, s, tracker);
}
