// After login the proxy only moves bytes. Each direction is forwarded on its own with
// backpressure, a FIN in one direction is passed on as a FIN (half-close), and
// an idle timer closes sessions nobody uses. Byte counts come from the sockets' own
// counters, so nothing is done per chunk.
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { direct } from './reused-reads.js';

/** How a spliced session ended; 'revoked': its user was disabled (SCIM) while it was open; 'internal-error': a bug of ours ended it. */
export type SpliceEnd = 'client-closed' | 'backend-closed' | 'idle-timeout' | 'client-error' | 'backend-error' | 'shutdown' | 'revoked' | 'internal-error';

export interface SpliceResult {
  readonly end: SpliceEnd;
  readonly bytesToBackend: number;
  readonly bytesToClient: number;
  readonly durationMs: number;
  readonly error?: Error;
}

export interface Splice {
  readonly done: Promise<SpliceResult>;
  close(reason: SpliceEnd): void;
  /** Moves no more bytes either way and records `reason` as how the session ended; what
   *  arrives from now on is dropped (the sockets stay open for a last word of our own, e.g.
   *  `* BYE`, and are closed by the caller). */
  stop(reason: SpliceEnd): void;
}

type Counted = Duplex & Pick<Socket, 'bytesWritten' | 'setTimeout'>;

// What stream.pipe() does for us, without its per-session closures (about 20 of them,
// measured 2 KiB per idle session) and per-chunk bookkeeping: write each chunk as it comes,
// stop reading while the other side's buffer is full, read again once it drained.
function forward(from: Duplex, to: Duplex): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
}

// The same for a socket made with reusedReads(): a view of its read buffer may be written
// without a copy, but the socket must not read again until that write is done.
function forwardReused(from: Socket, to: Duplex): boolean {
  let waiting = false;
  const written = (): void => {
    if (waiting && to.writableLength === 0) {
      waiting = false;
      from.resume();
    }
  };
  const taken = direct(from, (chunk, reused) => {
    const room = reused ? (to.write(chunk, written), to.writableLength === 0) : to.write(chunk);
    if (room) return true;
    waiting = true;
    from.pause(); // pause() as well: resume() does nothing for a stream that never paused
    return false;
  });
  if (taken) to.on('drain', written);
  return taken;
}

/** Moves bytes both ways with backpressure, in place of the plain forwarding (the SMTP
 *  command guard); reads with 'data' listeners, which stop() removes. `passEnd` is given the
 *  client's FIN to pass on once every byte before it has been (the guard may hold some). */
export type Forwarder = (client: Duplex, backend: Duplex) => { passEnd(end: () => void): void };

export function splice(client: Counted, backend: Counted, opts: { idleTimeoutMs: number; forward?: Forwarder }): Splice {
  const started = Date.now();
  const clientWritten0 = client.bytesWritten;
  const backendWritten0 = backend.bytesWritten;
  let end: SpliceEnd | null = null;
  let error: Error | undefined;
  let resolve!: (r: SpliceResult) => void;
  const done = new Promise<SpliceResult>((r) => (resolve = r));
  let closedCount = 0;

  const finish = (why: SpliceEnd, err?: Error): void => {
    if (end === null) {
      end = why;
      error = err;
    }
  };
  const onClose = (): void => {
    closedCount += 1;
    if (closedCount < 2) return;
    const r: SpliceResult = {
      end: end ?? 'client-closed',
      bytesToBackend: backend.bytesWritten - backendWritten0,
      bytesToClient: client.bytesWritten - clientWritten0,
      durationMs: Date.now() - started,
    };
    resolve(error ? { ...r, error } : r);
  };
  const closeBoth = (): void => {
    client.destroy();
    backend.destroy();
  };
  // end() on a stream already ended or destroyed builds an error object (stack trace and
  // all) only to drop it: measured as ~2 % of the proxy's CPU per login.
  const endIfOpen = (s: Counted): void => {
    if (!s.writableEnded && !s.destroyed) s.end();
  };

  client.on('error', (err) => { finish('client-error', err); closeBoth(); });
  backend.on('error', (err) => { finish('backend-error', err); closeBoth(); });
  // A FIN from one side is passed on as a FIN (half-close).
  let passClientEnd = (end: () => void): void => end();
  client.on('end', () => { finish('client-closed'); passClientEnd(() => endIfOpen(backend)); });
  backend.on('end', () => { finish('backend-closed'); endIfOpen(client); });
  // When one side is fully closed the session is over. The other side gets end(), not
  // destroy(), so what is already queued for it (a backend's BYE) is still delivered; the
  // idle timer bounds how long a peer that stopped reading can hold it open.
  client.on('close', () => { finish('client-closed'); endIfOpen(backend); onClose(); });
  backend.on('close', () => { finish('backend-closed'); endIfOpen(client); onClose(); });

  // IDLE keeps a session quiet for up to 29 minutes; the timer is per socket, reset by
  // activity in either direction since each socket sees both reads and writes.
  const onIdle = (): void => { finish('idle-timeout'); closeBoth(); };
  client.setTimeout(opts.idleTimeoutMs, onIdle);
  backend.setTimeout(0);

  if (opts.forward) {
    passClientEnd = opts.forward(client, backend).passEnd;
  } else {
    forward(client, backend);
    if (!forwardReused(backend as Duplex as Socket, client)) forward(backend, client);
  }
  client.resume();
  backend.resume();

  return {
    done,
    close(reason) {
      finish(reason);
      closeBoth();
    },
    stop(reason) {
      finish(reason);
      client.removeAllListeners('data');
      backend.removeAllListeners('data');
      direct(backend as Duplex as Socket, () => true);
    },
  };
}
