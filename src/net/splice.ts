// After login the proxy only moves bytes. Each direction is forwarded on its own with
// backpressure, a FIN in one direction is passed on as a FIN (half-close), and
// an idle check closes sessions nobody uses (idle-sweep.ts). Byte counts come from the
// sockets' own counters, so nothing is done per chunk.
//
// Every login ends in a splice, so its set-up and end are per-login cost (issue 21): one
// object per session, its listeners module functions shared by all sessions (an emitter calls
// a listener with the socket as `this`; the socket points back to its splice), and the end
// reported to the subclass's ended(), without a promise.
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { direct, type ReadSink } from './reused-reads.js';
import { BULK_READ_BYTES, readsReusableToward, reuseClientReads, type ReadOwner } from './client-reads.js';
import { idleSweep, type IdleSweep, type IdleWatched } from './idle-sweep.js';

/** How a spliced session ended; 'revoked': its user was disabled (SCIM) while it was open; 'internal-error': a bug of ours ended it. */
export type SpliceEnd = 'client-closed' | 'backend-closed' | 'idle-timeout' | 'client-error' | 'backend-error' | 'shutdown' | 'revoked' | 'internal-error';

export interface SpliceResult {
  readonly end: SpliceEnd;
  readonly bytesToBackend: number;
  readonly bytesToClient: number;
  readonly error?: Error;
}

type Counted = Duplex & Pick<Socket, 'bytesRead' | 'bytesWritten'>;

/** Moves bytes both ways with backpressure, in place of the plain forwarding (the SMTP
 *  command guard); reads with 'data' listeners, which stop() removes. `passEnd` is given the
 *  client's FIN to pass on once every byte before it has been (the guard may hold some). */
export type Forwarder = (client: Duplex, backend: Duplex) => { passEnd(end: () => void): void };

const kSplice = Symbol('splice');
type Spliced = Counted & { [kSplice]: Splice };
const spliceOf = (s: unknown): Splice => (s as Spliced)[kSplice];

// end() on a stream already ended or destroyed builds an error object (stack trace and
// all) only to drop it: measured as ~2 % of the proxy's CPU per login.
function endIfOpen(s: Duplex): void {
  if (!s.writableEnded && !s.destroyed) s.end();
}

/** After stop(): whatever the backend still sends is dropped. */
const DROP: ReadSink = { take: () => true };

export abstract class Splice implements ReadSink, ReadOwner, IdleWatched {
  private why: SpliceEnd | null = null;
  private error: Error | undefined = undefined;
  private closed = 0;
  private readonly clientWritten0: number;
  private readonly backendWritten0: number;
  /** The client has not yet taken a write of a view of the backend's read buffer. */
  private waiting = false;
  /** The backend is read through direct() (net/reused-reads.ts), not 'data' events. */
  private readonly reused: boolean = false;
  /** An upload from the client is to be read into reused buffers (net/client-reads.ts); not
   *  with TLS to the backend (readsReusableToward says why), nor once it is. */
  private tryReuse: boolean;
  private written: ((err?: Error | null) => void) | null = null;
  private passEnd: ((end: () => void) => void) | null = null;
  private readonly idle: IdleSweep;
  idleSeen = -1;
  idleSweeps = 0;

  constructor(readonly client: Counted, readonly backend: Counted, idleTimeoutMs: number, forward?: Forwarder) {
    this.clientWritten0 = client.bytesWritten;
    this.backendWritten0 = backend.bytesWritten;
    this.tryReuse = !forward && readsReusableToward(backend);
    (client as Spliced)[kSplice] = this;
    (backend as Spliced)[kSplice] = this;
    client.on('error', Splice.onClientError);
    backend.on('error', Splice.onBackendError);
    // A FIN from one side is passed on as a FIN (half-close).
    client.on('end', Splice.onClientEnd);
    backend.on('end', Splice.onBackendEnd);
    // When one side is fully closed the session is over. The other side gets end(), not
    // destroy(), so what is already queued for it (a backend's BYE) is still delivered; the
    // idle timer bounds how long a peer that stopped reading can hold it open.
    client.on('close', Splice.onClientClose);
    backend.on('close', Splice.onBackendClose);
    // IDLE keeps a session quiet for up to 29 minutes; any byte either way counts as use.
    this.idle = idleSweep(idleTimeoutMs);
    this.idle.add(this);
    if (forward) {
      this.passEnd = forward(client, backend).passEnd;
    } else {
      // What stream.pipe() does, without its per-session closures and per-chunk bookkeeping:
      // write each chunk as it comes, stop reading while the other side's buffer is full,
      // read again once it drained.
      client.on('data', Splice.onClientData);
      backend.on('drain', Splice.onBackendDrain);
      this.reused = direct(backend as Duplex as Socket, this);
      if (!this.reused) backend.on('data', Splice.onBackendData);
      client.on('drain', Splice.onClientDrain);
    }
    client.resume();
    backend.resume();
  }

  /** Called once, when both sockets have closed. */
  protected abstract ended(r: SpliceResult): void;

  close(reason: SpliceEnd): void {
    this.finish(reason);
    this.closeBoth();
  }

  /** Moves no more bytes either way and records `reason` as how the session ended; what
   *  arrives from now on is dropped (the sockets stay open for a last word of our own, e.g.
   *  `* BYE`, and are closed by the caller). */
  stop(reason: SpliceEnd): void {
    this.finish(reason);
    this.client.removeAllListeners('data');
    this.backend.removeAllListeners('data');
    direct(this.backend as Duplex as Socket, DROP);
  }

  /** A read of the backend (direct()): a `reused` chunk is a view of the socket's own buffer,
   *  which must not be read into again until the client took it. */
  take(chunk: Buffer, reused: boolean): boolean {
    const to = this.client;
    let room: boolean;
    if (reused) {
      to.write(chunk, (this.written ??= () => this.resumeIfWritten()));
      room = to.writableLength === 0;
    } else {
      room = to.write(chunk);
    }
    if (room) return true;
    this.waiting = true;
    this.backend.pause(); // pause() as well: resume() does nothing for a stream that never paused
    return false;
  }

  /** No view of a client read is referenced: what was written to the backend has gone. */
  settled(): boolean {
    return this.backend.writableLength === 0;
  }

  idleTimedOut(): void {
    this.finish('idle-timeout');
    this.closeBoth();
  }

  private resumeIfWritten(): void {
    if (this.waiting && this.client.writableLength === 0) {
      this.waiting = false;
      this.backend.resume();
    }
  }

  private finish(why: SpliceEnd, err?: Error): void {
    if (this.why === null) {
      this.why = why;
      this.error = err;
    }
  }

  private closeBoth(): void {
    this.client.destroy();
    this.backend.destroy();
  }

  private sideClosed(why: SpliceEnd, other: Duplex): void {
    this.finish(why);
    endIfOpen(other);
    if (++this.closed < 2) return;
    this.idle.delete(this);
    const bytesToBackend = this.backend.bytesWritten - this.backendWritten0;
    const bytesToClient = this.client.bytesWritten - this.clientWritten0;
    const end = this.why ?? 'client-closed';
    this.ended(this.error ? { end, bytesToBackend, bytesToClient, error: this.error } : { end, bytesToBackend, bytesToClient });
  }

  // ---- the listeners, shared by every session: `this` is the socket ------------------

  private static readonly onClientError = function (this: unknown, err: Error): void {
    const s = spliceOf(this);
    s.finish('client-error', err);
    s.closeBoth();
  };
  private static readonly onBackendError = function (this: unknown, err: Error): void {
    const s = spliceOf(this);
    s.finish('backend-error', err);
    s.closeBoth();
  };
  private static readonly onClientEnd = function (this: unknown): void {
    const s = spliceOf(this);
    s.finish('client-closed');
    if (s.passEnd === null) endIfOpen(s.backend);
    else s.passEnd(() => endIfOpen(s.backend));
  };
  private static readonly onBackendEnd = function (this: unknown): void {
    const s = spliceOf(this);
    s.finish('backend-closed');
    endIfOpen(s.client);
  };
  private static readonly onClientClose = function (this: unknown): void {
    const s = spliceOf(this);
    s.sideClosed('client-closed', s.backend);
  };
  private static readonly onBackendClose = function (this: unknown): void {
    const s = spliceOf(this);
    s.sideClosed('backend-closed', s.client);
  };
  private static readonly onClientData = function (this: unknown, chunk: Buffer): void {
    const s = spliceOf(this);
    if (!s.backend.write(chunk)) (this as Duplex).pause();
    if (s.tryReuse && chunk.length >= BULK_READ_BYTES) s.tryReuse = !reuseClientReads(this as Socket, s);
  };
  private static readonly onBackendData = function (this: unknown, chunk: Buffer): void {
    if (!spliceOf(this).client.write(chunk)) (this as Duplex).pause();
  };
  private static readonly onBackendDrain = function (this: unknown): void {
    spliceOf(this).client.resume();
  };
  private static readonly onClientDrain = function (this: unknown): void {
    const s = spliceOf(this);
    if (s.reused) s.resumeIfWritten();
    else s.backend.resume();
  };
}
