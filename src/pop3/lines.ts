// Bounded POP3 line framer: socket bytes in, lines out, no I/O. A command line and a SASL
// response are both one line (RFC 1939 §3, RFC 5034 §4); a line longer than maxLineBytes
// is an error the session ends the connection on, so no more than that (plus one read
// chunk) is ever held.
const LF = 0x0a;
const CR = 0x0d;

export type LineEvent = { readonly type: 'line'; readonly line: Buffer } | { readonly type: 'too-long' };

export class Pop3Lines {
  private buffer: Buffer = Buffer.alloc(0);
  private failed = false;

  constructor(private readonly maxLineBytes: number) {}

  push(chunk: Buffer): void {
    if (this.failed) return;
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
  }

  /** The next complete line without CRLF (a bare LF is accepted), or null if none yet. */
  next(): LineEvent | null {
    if (this.failed) return null;
    const lf = this.buffer.indexOf(LF);
    const end = lf < 0 ? this.buffer.length : lf > 0 && this.buffer[lf - 1] === CR ? lf - 1 : lf;
    if (end > this.maxLineBytes) {
      this.failed = true;
      this.buffer = Buffer.alloc(0);
      return { type: 'too-long' };
    }
    if (lf < 0) return null;
    const line = this.buffer.subarray(0, end);
    this.buffer = this.buffer.subarray(lf + 1);
    return { type: 'line', line };
  }

  /** Throws away what the client sent so far (plaintext pipelined after STLS, CVE-2011-0411 class). */
  discard(): void {
    this.buffer = Buffer.alloc(0);
  }

  /** Bytes received beyond the last line taken (pipelined after a login): for the backend. */
  takeRemaining(): Buffer {
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    return rest;
  }
}
