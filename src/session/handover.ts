// After a successful login, IMAP and SMTP do the same: pass on what either side sent
// early, splice, and log one summary line when the session ends.
import type net from 'node:net';
import type { Logger } from '../observability/logger.js';
import { splice, type Forwarder, type Splice } from '../net/splice.js';
import { metrics, protocolOf } from '../observability/metrics.js';
import { reportFault } from '../observability/faults.js';

export interface HandoverOptions {
  /** Bytes the backend sent after its login reply (kept in order for the client). */
  readonly fromBackend: Buffer;
  /** Bytes the client pipelined after its login command. */
  readonly fromClient: Buffer;
  readonly idleTimeoutMs: number;
  readonly log: Logger;
  readonly user: string;
  readonly mech: string;
  readonly startedAt: number;
  readonly onEnd?: () => void;
  /** In place of plain forwarding (SMTP: the command guard). */
  readonly forward?: Forwarder;
}

export function handOver(client: net.Socket, backend: net.Socket, o: HandoverOptions): Splice {
  if (o.fromBackend.length) client.write(o.fromBackend);
  if (o.fromClient.length) backend.write(o.fromClient);
  const s = splice(client, backend, o.forward ? { idleTimeoutMs: o.idleTimeoutMs, forward: o.forward } : { idleTimeoutMs: o.idleTimeoutMs });
  const { log, user, mech, startedAt, onEnd } = o;
  void s.done.then((r) => {
    const err = r.error ? { err: (r.error as NodeJS.ErrnoException).code ?? r.error.message } : {};
    const protocol = protocolOf(log);
    metrics.splicedBytes.inc({ protocol, direction: 'to_backend' }, r.bytesToBackend);
    metrics.splicedBytes.inc({ protocol, direction: 'to_client' }, r.bytesToClient);
    log.info({ event: 'session-end', user, mech, end: r.end, bytesIn: r.bytesToBackend, bytesOut: r.bytesToClient, durationMs: Date.now() - startedAt, ...err }, 'session ended');
    onEnd?.();
  }).catch((err: unknown) => reportFault(log, protocolOf(log), 'session end', err)); // the sockets are closed already
  return s;
}
