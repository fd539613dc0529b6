// Where a spliced SMTP session stands, from the bytes passing by: is the client between
// mail transactions (the point where a server may say 421 and close, RFC 5321 §3.8), or
// inside one (MAIL given, or DATA / BDAT not yet answered)? Shutdown closes a session only
// between transactions, so a message in DATA is finished and its 250 delivered first.
//
// Only spliced SMTP sessions are tracked (submission traffic: small and short-lived);
// IMAP splices are not parsed. Replies are matched to commands in order, which is what
// PIPELINING (RFC 2920) guarantees. Anything the tracker cannot follow (an over-long line)
// makes it give up: the session then counts as busy until the deadline.
import { asciiUpper } from '../auth/address.js';
import { MAX_TRACKED_SMTP_LINE_BYTES } from '../limits.js';
import { DataEnd } from './data-end.js';

type Pending = 'MAIL' | 'RSET' | 'DATA' | 'EOD' | 'BDAT' | 'BDAT_LAST' | 'OTHER';

export class SmtpTransactionTracker {
  private mode: 'command' | 'data' | 'bdat' = 'command';
  private bdatLeft = 0;
  private bdatLast = false;
  private clientLine = '';
  private serverLine = '';
  /** Where the content ends, as Postfix reads it (the guard's own rule: it sees what Postfix sees). */
  private readonly dataEnd = new DataEnd();
  private readonly pending: Pending[] = [];
  /** Postfix has a transaction open, by the replies read so far (in order, as it answered the
   *  commands: a pipelined RSET answered after MAIL was sent closes the one before MAIL). */
  private inTransaction = false;
  private lost = false;
  private waiter: (() => void) | null = null;

  /** Between transactions: nothing unanswered, no MAIL open, not in DATA/BDAT. */
  get idle(): boolean {
    return !this.lost && this.mode === 'command' && this.pending.length === 0 && !this.inTransaction && this.clientLine === '';
  }

  /** Calls `fn` once, as soon as the session is idle (now, if it is). */
  whenIdle(fn: () => void): void {
    if (this.idle) return fn();
    this.waiter = fn;
  }

  fromClient(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length && !this.lost) {
      if (this.mode === 'bdat') {
        const take = Math.min(this.bdatLeft, chunk.length - i);
        this.bdatLeft -= take;
        i += take;
        if (this.bdatLeft === 0) {
          this.mode = 'command';
          this.pending.push(this.bdatLast ? 'BDAT_LAST' : 'BDAT');
        }
        continue;
      }
      if (this.mode === 'data') {
        i = this.scanData(chunk, i);
        continue;
      }
      const nl = chunk.indexOf(0x0a, i);
      if (nl < 0) {
        this.clientLine += chunk.toString('latin1', i);
        if (this.clientLine.length > MAX_TRACKED_SMTP_LINE_BYTES) this.lost = true;
        return;
      }
      const line = (this.clientLine + chunk.toString('latin1', i, nl)).replace(/\r$/, '');
      this.clientLine = '';
      i = nl + 1;
      this.command(line);
    }
    this.check();
  }

  fromServer(chunk: Buffer): void {
    const text = this.serverLine + chunk.toString('latin1');
    const lines = text.split('\n');
    this.serverLine = lines.pop()!;
    if (this.serverLine.length > MAX_TRACKED_SMTP_LINE_BYTES) this.lost = true;
    for (const raw of lines) {
      const m = /^(\d{3})( |$)/.exec(raw.replace(/\r$/, ''));
      if (m) this.reply(Number(m[1]));
    }
    this.check();
  }

  private command(line: string): void {
    const verb = asciiUpper(/^\s*(\S+)/.exec(line)?.[1] ?? '');
    if (verb === 'MAIL') {
      this.pending.push('MAIL');
    } else if (verb === 'RSET') {
      this.pending.push('RSET');
    } else if (verb === 'DATA') {
      // RFC 2920 §3.1: DATA ends a pipelined group; the body follows only after 354.
      this.pending.push('DATA');
      this.mode = 'data';
      this.dataEnd.reset(); // the DATA line's LF starts the content
    } else if (verb === 'BDAT') {
      const m = /^\s*BDAT\s+(\d+)(\s+LAST)?\s*$/i.exec(line);
      if (!m) return void this.pending.push('OTHER');
      this.bdatLeft = Number(m[1]);
      this.bdatLast = Boolean(m[2]);
      if (this.bdatLeft === 0) this.pending.push(this.bdatLast ? 'BDAT_LAST' : 'BDAT');
      else this.mode = 'bdat';
    } else {
      this.pending.push('OTHER');
    }
  }

  /** Looks for the end of the content from `from`; returns where command parsing resumes (or the chunk's end). */
  private scanData(chunk: Buffer, from: number): number {
    const end = this.dataEnd.find(chunk, from);
    if (end < 0) return chunk.length;
    this.mode = 'command';
    this.pending.push('EOD');
    return end;
  }

  private reply(code: number): void {
    const what = this.pending.shift();
    if (what === undefined) return; // unsolicited (a 421 of the server's own)
    if (what === 'DATA' && code !== 354) {
      this.mode = 'command'; // DATA refused: no body follows
    }
    // Transaction state follows the replies, not the commands: a command still unanswered
    // keeps the session busy anyway (`pending`). A refused MAIL (nested, 503) leaves an open one open.
    if (what === 'EOD' || what === 'BDAT_LAST' || what === 'RSET') this.inTransaction = false;
    if ((what === 'MAIL' || what === 'BDAT') && code < 400) this.inTransaction = true;
  }

  private check(): void {
    if (this.waiter && this.idle) {
      const fn = this.waiter;
      this.waiter = null;
      fn();
    }
  }
}
