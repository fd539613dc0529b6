// After a successful login, IMAP and SMTP do the same: pass on what either side sent
// early, splice, and log one summary line when the session ends.
import type net from 'node:net';
import type { Logger } from '../observability/logger.js';
import { Splice, type Forwarder, type SpliceResult } from '../net/splice.js';
import { metrics, protocolOf } from '../observability/metrics.js';
import { reportFault } from '../observability/faults.js';

/** What the splice of a logged-in session is told once, kept (one object) until it ends. */
export interface SessionSpliceOptions {
  readonly idleTimeoutMs: number;
  readonly log: Logger;
  readonly user: string;
  readonly mech: string;
  readonly startedAt: number;
  /** In place of plain forwarding (SMTP: the command guard). */
  readonly forward?: Forwarder;
}

export interface HandoverOptions extends SessionSpliceOptions {
  readonly onEnd?: () => void;
}

/** What a logged-in session's end tells: its log line and byte counters, then `over()`. */
export abstract class LoggedSplice extends Splice {
  constructor(client: net.Socket, backend: net.Socket, protected readonly o: SessionSpliceOptions) {
    super(client, backend, o.idleTimeoutMs, o.forward);
  }

  /** The session is over and logged: the service forgets it. */
  protected abstract over(): void;

  protected ended(r: SpliceResult): void {
    const { log } = this.o;
    const protocol = protocolOf(log);
    try {
      metrics.countSplicedBytes(protocol, r.bytesToBackend, r.bytesToClient);
      const durationMs = Date.now() - this.o.startedAt;
      // Field by field: a spread here would define each field on V8's slow path.
      if (r.error) {
        const err = (r.error as NodeJS.ErrnoException).code ?? r.error.message;
        log.info({ event: 'session-end', user: this.o.user, mech: this.o.mech, end: r.end, bytesIn: r.bytesToBackend, bytesOut: r.bytesToClient, durationMs, err }, 'session ended');
      } else {
        log.info({ event: 'session-end', user: this.o.user, mech: this.o.mech, end: r.end, bytesIn: r.bytesToBackend, bytesOut: r.bytesToClient, durationMs }, 'session ended');
      }
      this.over();
    } catch (err) {
      reportFault(log, protocol, 'session end', err); // the sockets are closed already
    }
  }
}

class HandedOver extends LoggedSplice {
  declare protected readonly o: HandoverOptions;

  protected over(): void {
    this.o.onEnd?.();
  }
}

/** Writes what the backend sent after its login reply, then splices; the session's end is logged. */
export function handOver(client: net.Socket, backend: net.Socket, fromBackend: Buffer, o: HandoverOptions): Splice {
  passEarly(client, backend, fromBackend, EMPTY);
  return new HandedOver(client, backend, o);
}

const EMPTY = Buffer.alloc(0);

/** What each side sent before the splice, in order ahead of everything after. */
export function passEarly(client: net.Socket, backend: net.Socket, fromBackend: Buffer, fromClient: Buffer): void {
  if (fromBackend.length) client.write(fromBackend);
  if (fromClient.length) backend.write(fromClient);
}
