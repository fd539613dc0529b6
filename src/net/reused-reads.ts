// Reading a plaintext backend socket without a new buffer per read. By default Node gives
// every read a fresh 64 KiB buffer that the GC frees later; in a bulk FETCH at 1 GiB/s that
// is 16,000 allocations a second, and measured it was most of the proxy's CPU per MiB
// (test/bench). A socket made with reusedReads():
// - reads small messages (login replies, IDLE updates) into one buffer shared by all such
//   sockets and hands on a copy, so an idle session holds no read buffer;
// - once a large read shows a bulk transfer, and only after the splice took the socket over
//   (direct()), reads into a buffer of its own and hands on views of it without copying.
//   The sink must not let the socket read again while a write of such a view is pending
//   (return false, resume() once written): the next read overwrites it.
// Until direct() is called, reads are emitted as 'data' events (copies), as without onread.
// Only for plaintext sockets: TLS reads its socket's handle itself and never sees onread.
import type net from 'node:net';
import { Duplex } from 'node:stream';

/** Receives each read; `reused` chunks are views of the socket's own buffer. Return false to pause.
 *  An object, not a callback, so the splice itself is the sink (no closure per session). */
export interface ReadSink { take(chunk: Buffer, reused: boolean): boolean }

const SHARED_BYTES = 64 * 1024;
const OWN_BYTES = 64 * 1024;
/** A read at least this large into the shared buffer starts a bulk transfer. */
const BULK_READ_BYTES = 16 * 1024;
/** This many reads smaller than SMALL_READ_BYTES in a row end one (the buffer is dropped). */
const SMALL_READS_TO_END = 4;
const SMALL_READ_BYTES = 4 * 1024;

const shared = Buffer.allocUnsafeSlow(SHARED_BYTES);

class ReusedReads {
  socket: net.Socket | null = null;
  sink: ReadSink | null = null;
  own: Buffer | null = null;
  smallReads = 0;
  /** hold(): a read that comes before the next owner is kept here (one at most: reading stops). */
  held: Buffer[] | null = null;

  readonly buffer = (): Buffer => this.own ?? shared;

  readonly callback = (n: number, buf: Uint8Array): boolean => {
    if (buf !== this.own) {
      // Not from Buffer's shared 8 KiB pool: a slab stays alive while any chunk of it does.
      const copy = Buffer.allocUnsafeSlow(n);
      (buf as Buffer).copy(copy, 0, 0, n);
      if (this.sink !== null && n >= BULK_READ_BYTES) this.own = Buffer.allocUnsafeSlow(OWN_BYTES);
      return this.deliver(copy, false);
    }
    this.smallReads = n < SMALL_READ_BYTES ? this.smallReads + 1 : 0;
    // Once dropped, nothing reads into this buffer again: the view is safe to keep.
    if (this.smallReads >= SMALL_READS_TO_END) { this.own = null; this.smallReads = 0; }
    return this.deliver((buf as Buffer).subarray(0, n), this.own !== null);
  };

  private deliver(chunk: Buffer, reused: boolean): boolean {
    if (this.sink !== null) return this.sink.take(chunk, reused);
    if (this.held !== null) {
      this.held.push(chunk); // a copy: no sink yet, so nothing reads into a buffer of its own
      return false;
    }
    this.socket?.emit('data', chunk);
    return true;
  }
}

const readers = new WeakMap<net.Socket, ReusedReads>();

/** The `onread` option for net.connect(); pass the socket to adopt() right after. */
export function reusedReads(): { onread: net.OnReadOpts; adopt(socket: net.Socket): void } {
  const r = new ReusedReads();
  return {
    onread: { buffer: r.buffer, callback: r.callback },
    adopt(socket) { r.socket = socket; readers.set(socket, r); },
  };
}

/**
 * Hands every further read of `socket` to `sink` instead of 'data' events. False if the
 * socket was not made with reusedReads() (use 'data' events then).
 */
export function direct(socket: net.Socket, sink: ReadSink): boolean {
  const r = readers.get(socket);
  if (!r) return false;
  r.sink = sink;
  const held = r.held;
  r.held = null;
  if (held) for (const chunk of held) sink.take(chunk, false);
  return true;
}

/**
 * Between two owners (the login's line reader, then the splice): what is read meanwhile is
 * kept for the next one (direct(), or 'data' once resumed) and reading stops. In place of
 * pause(), which for such a socket stops the handle's reads and the splice's resume() starts
 * them again: two epoll_ctl calls per login for a hand-over that takes no event-loop turn
 * (issue 21). False if the socket was not made with reusedReads() (pause() it then).
 */
export function hold(socket: net.Socket): boolean {
  const r = readers.get(socket);
  if (!r || r.sink !== null) return false;
  r.held = [];
  // The stream pauses (an EOF waits for the next owner) but the handle keeps reading.
  Duplex.prototype.pause.call(socket);
  socket.once('resume', () => {
    const held = r.held;
    r.held = null;
    if (held) for (const chunk of held) socket.emit('data', chunk);
  });
  return true;
}
