// Bounded POP3 line framer: socket bytes in, lines out, no I/O. A command line and a SASL
// response are both one line (RFC 1939 §3, RFC 5034 §4); a line longer than maxLineBytes
// is an error the session ends the connection on, so no more than that (plus one read
// chunk) is ever held. Each byte is searched for LF once, however the line is chunked: a
// client feeding a line one byte a read costs linear work, not a rescan per read.
import { ByteQueue } from '../net/byte-queue.js';

const LF = 0x0a;
const CR = 0x0d;

export type LineEvent = { readonly type: 'line'; readonly line: Buffer } | { readonly type: 'too-long' };

export class Pop3Lines {
  private readonly queue = new ByteQueue();
  /** Bytes at the start of the queue already searched for LF without finding one. */
  private scanned = 0;
  private failed = false;

  constructor(private readonly maxLineBytes: number) {}

  push(chunk: Buffer): void {
    if (this.failed) return;
    this.queue.append(chunk);
  }

  /** The next complete line without CRLF (a bare LF is accepted), or null if none yet. */
  next(): LineEvent | null {
    if (this.failed) return null;
    const view = this.queue.view(0, this.queue.length);
    const lf = view.indexOf(LF, this.scanned);
    // With no LF yet, a CR that ends the read may be the first half of CRLF, not a line byte:
    // else a line at the cap would pass or fail depending on where the reads fell.
    const stop = lf < 0 ? view.length : lf;
    const end = stop > 0 && view[stop - 1] === CR ? stop - 1 : stop;
    if (end > this.maxLineBytes) {
      this.failed = true;
      this.clear();
      this.queue.release();
      return { type: 'too-long' };
    }
    if (lf < 0) {
      this.scanned = view.length;
      return null;
    }
    // A copy: the queue's memory is reused by the next push.
    const line = Buffer.from(view.subarray(0, end));
    this.queue.consume(lf + 1);
    this.scanned = 0;
    return { type: 'line', line };
  }

  /** Throws away what the client sent so far (plaintext pipelined after STLS, CVE-2011-0411 class). */
  discard(): void {
    this.clear();
  }

  /** Bytes received beyond the last line taken (pipelined after a login): for the backend. */
  takeRemaining(): Buffer {
    const rest = Buffer.from(this.queue.view(0, this.queue.length));
    this.clear();
    this.queue.release(); // the framer's work is done; a logged-in session keeps no buffer
    return rest;
  }

  private clear(): void {
    this.queue.clear();
    this.scanned = 0;
  }
}
