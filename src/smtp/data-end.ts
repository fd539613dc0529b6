// Where SMTP DATA content ends, as Postfix 3.7 reads it (smtpd_forbid_bare_newline=no): at a
// line that is "." (RFC 5321 §4.1.1.4), a line ending at LF with or without CR, Postfix
// stripping every CR before the LF (".\r\r\n" ends the content as ".\r\n" does), and only at
// a line start, and only if the line with its LF fits in one of Postfix's records
// (line_length_limit, 2048 bytes): a longer line is read as a record without its LF, whose CRs
// stay, and a continuation, so "." and 2047 or more CRs is content. Kept across reads: a line may be split anywhere. Only a line that starts with
// "." can end the content, so the scan skips to the next "\n." in one search rather than line
// by line (a MiB of content is some 13,000 lines). That search still stops at every LF (13,000
// memchr calls per MiB, about a tenth of the proxy's CPU in an upload): a read with no "." at
// all, as a base64 attachment's are, is passed over in one memchr for the "." instead.
import { POSTFIX_LINE_LENGTH_LIMIT } from '../limits.js';

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const LF_DOT = Buffer.from('\n.', 'latin1');

export class DataEnd {
  /** Length of the content line being read, and whether it is "." and CRs so far. */
  private lineBytes = 0;
  private dotLine = false;

  /** New content starts (Postfix answered DATA with 354). */
  reset(): void {
    this.lineBytes = 0;
    this.dotLine = false;
  }

  /** The index after the LF of the line "." in `chunk` from `from`, or -1: the content goes on past it. */
  find(chunk: Buffer, from: number): number {
    let i = from;
    while (i < chunk.length) {
      if (this.lineBytes === 0 ? chunk[i] !== DOT : !this.dotLine) {
        // No line from i on starts at i with "." (see the condition): a "\n." has its "." after
        // i, so at or after the first "." from i.
        const first = chunk.indexOf(DOT, i);
        const dot = first < 0 ? -1 : chunk.indexOf(LF_DOT, Math.max(i, first - 1));
        if (dot < 0) {
          this.lineBytes = chunk[chunk.length - 1] === LF ? 0 : 1;
          this.dotLine = false;
          return -1;
        }
        i = dot + 1;
        this.lineBytes = 0;
      }
      const lf = chunk.indexOf(LF, i);
      const stop = lf < 0 ? chunk.length : lf;
      if (this.lineBytes === 0 && stop > i) this.dotLine = chunk[i] === DOT;
      for (let j = this.lineBytes === 0 ? i + 1 : i; this.dotLine && j < stop; j++) this.dotLine = chunk[j] === CR;
      this.lineBytes += stop - i;
      if (lf < 0) return -1;
      const isEnd = this.dotLine && this.lineBytes > 0 && this.lineBytes < POSTFIX_LINE_LENGTH_LIMIT;
      this.lineBytes = 0;
      this.dotLine = false;
      i = lf + 1;
      if (isEnd) return i;
    }
    return -1;
  }
}
