// Reading a spliced client socket without a new buffer per read, once it uploads (SMTP DATA,
// IMAP APPEND). By default Node reads each chunk into a fresh buffer (64 KiB from a plain
// socket, one per 16 KiB record from a TLS one) that only the GC frees. Measured on a 1 MiB
// submission that was half the proxy's CPU per message: the allocations, the page faults of
// a heap that grows again after each trim, the major GCs the external memory brings on.
// (The backend side has its own way, reused-reads.ts: sockets the proxy dials take `onread`.)
//
// Node offers reading into one's own buffers (the `onread` option) only for sockets it
// connects itself. An accepted socket gets the same by setting the three fields that option
// sets and calling its handle's useUserBuffer(), as the option does; the fields are found by
// their names once at start. If a Node release renames them, reads stay as they are.
//
// Reads still arrive as 'data' events, so the splice's listeners stay as they are. A buffer is
// read into again only once its owner is `settled()` (every view of it written, none kept):
// until then the next read goes into another of a few buffers, or a new one when all are
// taken. Once the upload is over (two small reads), reads go into one buffer shared by all
// sockets and are handed on as copies, so an idle session holds no read buffer again.
import net from 'node:net';

/** Whoever takes the reads: true when no view of a read is referenced any more. */
export interface ReadOwner { settled(): boolean }

/** A read at least this large is an upload (a plain socket reads up to 64 KiB, TLS 16 KiB). */
export const BULK_READ_BYTES = 8 * 1024;
const BYTES = 64 * 1024;
const POOL = 4;
/** Two reads in a row smaller than this end the upload: the buffers are dropped, so a session
 *  that uploaded and then waits (IMAP IDLE after APPEND) holds none. One is not enough: a TLS
 *  client's write often ends in a short record. Another upload costs one copied read and one
 *  new buffer, as every read did before. */
const SMALL_READ_BYTES = 2 * 1024;
const SMALL_READS_TO_END = 2;

const shared = Buffer.allocUnsafeSlow(BYTES);

interface Fields { readonly buffer: symbol; readonly callback: symbol; readonly gen: symbol }

const fields: Fields | null = (() => {
  // onread is a connect() option in the types; Socket's constructor reads it (as connect() does).
  const probe = new net.Socket({ onread: { buffer: () => shared, callback: () => true } } as net.SocketConstructorOpts);
  const named = (name: string): symbol | undefined => Object.getOwnPropertySymbols(probe).find((s) => s.description === name);
  const buffer = named('kBuffer');
  const callback = named('kBufferCb');
  const gen = named('kBufferGen');
  probe.destroy();
  return buffer && callback && gen ? { buffer, callback, gen } : null;
})();

type Handle = { useUserBuffer?: (b: Uint8Array) => void };
type Adopted = net.Socket & Record<symbol, unknown> & { _handle?: Handle | null };

class OwnReads {
  private own: Buffer[] = [];
  private readonly inUse: Buffer[] = [];
  private small = 0;
  private bulk = true;

  constructor(private readonly socket: net.Socket, private readonly owner: ReadOwner) {}

  /** Where the next read goes (Node calls it after each callback). */
  readonly next = (): Buffer => {
    if (!this.bulk) return shared;
    if (this.owner.settled()) this.inUse.length = 0;
    for (const b of this.own) if (!this.inUse.includes(b)) return b;
    const b = Buffer.allocUnsafeSlow(BYTES);
    if (this.own.length < POOL) this.own.push(b);
    return b; // beyond the pool: a buffer of its own, freed by the GC as before
  };

  readonly callback = (n: number, buf: Uint8Array): boolean => {
    if (buf === shared) {
      const copy = Buffer.allocUnsafeSlow(n);
      shared.copy(copy, 0, 0, n);
      if (n >= BULK_READ_BYTES) this.bulk = true;
      this.socket.emit('data', copy);
      return true;
    }
    const b = buf as Buffer;
    this.small = n < SMALL_READ_BYTES ? this.small + 1 : 0;
    if (this.small >= SMALL_READS_TO_END) {
      // Never read into again: the views handed on stay as they are.
      this.bulk = false;
      this.own = [];
      this.inUse.length = 0;
      this.small = 0;
    } else if (this.own.includes(b)) {
      this.inUse.push(b);
    }
    this.socket.emit('data', b.subarray(0, n));
    return true;
  };
}

const adopted = new WeakSet<net.Socket>();

/**
 * Whether a splice toward `backend` may adopt its client's reads. Not with TLS to the backend:
 * a TLS socket reports each write done only a turn later, so a buffer is never free at the next
 * read, and fresh buffers of our own measured slower than Node's (1 MiB submissions: 3.9 -> 6.0
 * ms of CPU each, median of 8 rounds; docs/performance.md, round eight).
 */
export function readsReusableToward(backend: object): boolean {
  return (backend as { encrypted?: boolean }).encrypted !== true;
}

/**
 * From the next read on, reads `socket` into reused buffers (see the top), handed on as
 * 'data' events. Call it from a 'data' listener on a chunk of at least BULK_READ_BYTES. False
 * (and nothing changes) if the socket has bytes buffered that 'data' has not yet delivered
 * (they would come after the next reads), has no native handle, or Node's fields are not found.
 */
export function reuseClientReads(socket: net.Socket, owner: ReadOwner): boolean {
  if (adopted.has(socket)) return true;
  const s = socket as Adopted;
  const handle = s._handle;
  if (fields === null || !handle || typeof handle.useUserBuffer !== 'function' || socket.readableLength !== 0 || socket.destroyed) return false;
  const r = new OwnReads(socket, owner);
  const first = r.next();
  s[fields.buffer] = first;
  s[fields.callback] = r.callback;
  s[fields.gen] = r.next;
  handle.useUserBuffer(first);
  adopted.add(socket);
  return true;
}
