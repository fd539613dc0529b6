// What a logged-in SMTP client may say to Postfix through the splice. Postfix trusts the
// proxy's address for XCLIENT (xclient mode: smtpd_authorized_xclient_hosts) and answers it
// again and again, so `XCLIENT LOGIN=bob` from a client logged in as alice would make it bob.
// The guard reads the client's command stream the way Postfix does and never passes on:
//   XCLIENT, XFORWARD  the proxy's privilege, not the client's (550 5.7.0, Postfix's words)
//   STARTTLS           TLS to Postfix through the splice would hide the stream from the guard
//   AUTH               already authenticated (503, what Postfix says too)
//   BDAT               CHUNKING was never offered to the client (our EHLO before login has
//                      none, and it is taken out of Postfix's EHLO after login); its chunk is
//                      dropped, so the guard never has to agree with Postfix on chunk lengths
// and takes XCLIENT, XFORWARD and CHUNKING out of Postfix's EHLO replies.
//
// Framing follows Postfix 3.7 (smtpd_forbid_bare_newline=no): a line ends at LF, with or
// without CR; a command's verb may follow blanks; DATA content ends at a line that is "."
// (RFC 5321 §4.1.1.4), and only at a line start. Bytes after DATA are held until Postfix has
// answered it (RFC 2920 §3.1: the content follows 354 only; after a refusal the same bytes
// are commands). A refused command is answered in order: once every reply it follows is in.
// Pure: bytes in, bytes out through `io`; the splice does the socket work.
//
// What one call passes on goes out in as few writes as it can without a copy: commands a
// client pipelined in one read (MAIL, RCPT, DATA) are adjacent bytes of that read and leave
// as one view of them, and Postfix's replies read at once (250, 250, 354) as one string. On
// the TLS leg to Postfix each write is a TLS record and a send that wakes Postfix, which then
// answers each record on its own (issue 21: SMTP vs direct Postfix).

import { REPLY } from './replies.js';
import { MAX_SPLICED_SMTP_COMMAND_BYTES, MAX_SPLICED_SMTP_REPLY_LINE_BYTES } from '../limits.js';
import { DataEnd } from './data-end.js';
import { EhloFilter, REPLY_LINE } from './ehlo-filter.js';

const LF = 0x0a;
const CR = 0x0d;

export const GUARD_REPLY = {
  forbidden: '550 5.7.0 Error: insufficient authorization\r\n',
  startTls: '503 5.5.1 Error: STARTTLS is not available after login\r\n',
  auth: `${REPLY.alreadyAuthenticated.join(' ')}\r\n`,
  bdat: '502 5.5.1 Error: BDAT is not available, use DATA\r\n',
  tooLong: '500 5.5.2 Error: command line too long\r\n',
} as const;

const BDAT_ARGS = /^[ \t]+(\d{1,15})([ \t]+LAST)?[ \t]*$/i;

export interface GuardIo {
  toBackend(chunk: Buffer): void;
  /** `own`: a reply of the guard's, not Postfix's. False: the client has no room now (resume() later). */
  toClient(chunk: Buffer, own: boolean): boolean;
  /** A command was refused (its verb, upper case). */
  refused?(verb: string): void;
}

type Pending = 'DATA' | 'OTHER';

export class SmtpCommandGuard {
  private mode: 'command' | 'data' | 'skip-line' | 'skip-bytes' = 'command';
  /** The command line being read (command mode), at most MAX_SPLICED_SMTP_COMMAND_BYTES. */
  private line: Buffer[] = [];
  private lineBytes = 0;
  /** skip-bytes: how many are left (an unwanted BDAT chunk). */
  private skipLeft = 0;
  /** data mode: where the content ends. */
  private readonly dataEnd = new DataEnd();
  /** Replies Postfix still owes for what was passed on, in order. */
  private readonly pending: Pending[] = [];
  /** Our own replies that wait for `pending` to empty, then client bytes that came after. */
  private readonly queued: string[] = [];
  private held: Buffer[] = [];
  /** Held until Postfix has answered what was passed on. */
  private waiting = false;
  /** Held until the client has read our own replies (it pipelines refused commands, unread). */
  private stalled = false;
  private dataAccepted = false;
  private serverLine = '';
  private readonly ehlo = new EhloFilter();
  /** Bytes for Postfix not yet handed to `io`: one view of adjacent bytes (see the top). */
  private toBackend: Buffer | null = null;
  /** Postfix's reply text for the client not yet handed to `io`. */
  private toClient = '';

  constructor(private readonly io: GuardIo) {}

  /** Client bytes are held (the splice stops reading the client meanwhile). */
  get holding(): boolean {
    return this.waiting || this.stalled;
  }

  /** Views of client reads are kept (held, a command line's start, bytes not yet handed on). */
  get keepsClientBytes(): boolean {
    return this.waiting || this.stalled || this.held.length > 0 || this.line.length > 0 || this.toBackend !== null;
  }

  /** The client has room again for our replies. */
  resume(): void {
    this.stalled = false;
    this.release();
    this.flushBackend();
  }

  fromClient(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.waiting || this.stalled) {
        this.held.push(chunk.subarray(i));
        break;
      }
      switch (this.mode) {
        case 'data': i = this.passData(chunk, i); break;
        case 'skip-bytes': i = this.skipBytes(chunk, i); break;
        case 'skip-line': i = this.skipLine(chunk, i); break;
        case 'command': i = this.readCommand(chunk, i); break;
      }
    }
    this.flushBackend();
  }

  fromBackend(chunk: Buffer): void {
    const text = this.serverLine + chunk.toString('latin1');
    let start = 0;
    let out = '';
    for (let lf = text.indexOf('\n'); lf >= 0; lf = text.indexOf('\n', start)) {
      const line = text.slice(start, lf + 1);
      start = lf + 1;
      out += this.ehlo.line(line);
      const m = REPLY_LINE.exec(line);
      if (m && m[2] !== '-') {
        // A final reply line: what it answers is done; our replies that waited may follow.
        this.toClient += out;
        out = '';
        this.answered(Number(m[1]));
      }
    }
    this.serverLine = text.slice(start);
    if (this.serverLine.length > MAX_SPLICED_SMTP_REPLY_LINE_BYTES) {
      out += this.ehlo.flush() + this.serverLine;
      this.serverLine = '';
    }
    this.toClient += out;
    this.flushClient();
    this.flushBackend();
  }

  /** Queues bytes for Postfix: joined to the queued ones when they follow them in memory. */
  private pass(b: Buffer): void {
    const q = this.toBackend;
    if (q !== null && q.buffer === b.buffer && q.byteOffset + q.length === b.byteOffset) {
      this.toBackend = Buffer.from(q.buffer, q.byteOffset, q.length + b.length);
      return;
    }
    this.flushBackend();
    this.toBackend = b;
  }

  private flushBackend(): void {
    const q = this.toBackend;
    if (q === null) return;
    this.toBackend = null;
    this.io.toBackend(q);
  }

  private flushClient(): void {
    const text = this.toClient;
    if (!text) return;
    this.toClient = '';
    // Postfix's replies are paced by the splice (it stops reading Postfix).
    this.io.toClient(Buffer.from(text, 'latin1'), false);
  }

  // ---- client → Postfix ----------------------------------------------------------

  private readCommand(chunk: Buffer, from: number): number {
    const lf = chunk.indexOf(LF, from);
    const end = lf < 0 ? chunk.length : lf + 1;
    this.line.push(chunk.subarray(from, end));
    this.lineBytes += end - from;
    if (lf < 0) {
      // Not even the line end in sight: drop the rest of the line, then refuse it.
      if (this.lineBytes > MAX_SPLICED_SMTP_COMMAND_BYTES + 1) this.startSkip();
      return end;
    }
    const line = this.line.length === 1 ? this.line[0]! : Buffer.concat(this.line);
    this.line = [];
    this.lineBytes = 0;
    let content = line.length - 1;
    while (content > 0 && line[content - 1] === CR) content -= 1;
    // Postfix would cut a longer line and run its start: refuse it whole instead.
    if (content > MAX_SPLICED_SMTP_COMMAND_BYTES) this.refuse(GUARD_REPLY.tooLong);
    else this.command(line);
    return end;
  }

  private startSkip(): void {
    this.line = [];
    this.lineBytes = 0;
    this.mode = 'skip-line';
  }

  private command(line: Buffer): void {
    const text = line.toString('latin1');
    // Postfix skips blanks before the verb; anything up to a space counts as one here.
    const m = /^[\x00-\x20]*([^\x00-\x20]*)([\s\S]*)$/.exec(text)!;
    const verb = m[1]!.toUpperCase();
    if (verb.startsWith('XCLIENT') || verb.startsWith('XFORWARD')) return this.refuse(GUARD_REPLY.forbidden, verb);
    if (verb.startsWith('STARTTLS')) return this.refuse(GUARD_REPLY.startTls, verb);
    if (verb === 'AUTH') return this.refuse(GUARD_REPLY.auth);
    if (verb === 'BDAT') {
      // RFC 3030 §2: the chunk follows the command whatever the answer; drop it unread.
      const args = BDAT_ARGS.exec(m[2]!.replace(/[\r\n]+$/, ''));
      this.refuse(GUARD_REPLY.bdat);
      if (args && Number(args[1]) > 0) {
        this.mode = 'skip-bytes';
        this.skipLeft = Number(args[1]);
      }
      return;
    }
    this.pass(line);
    if (verb === 'DATA') {
      this.pending.push('DATA');
      this.waiting = true; // until Postfix says whether content (354) or commands follow
    } else {
      this.pending.push('OTHER');
    }
  }

  /** `verb`: worth telling (an attempt at something the proxy forbids), not a client's slip. */
  private refuse(reply: string, verb?: string): void {
    if (verb) this.io.refused?.(verb);
    if (this.pending.length === 0) return this.sendClient(reply);
    this.queued.push(reply);
    this.waiting = true;
  }

  private skipLine(chunk: Buffer, from: number): number {
    const lf = chunk.indexOf(LF, from);
    if (lf < 0) return chunk.length;
    this.mode = 'command';
    this.refuse(GUARD_REPLY.tooLong);
    return lf + 1;
  }

  private skipBytes(chunk: Buffer, from: number): number {
    const take = Math.min(this.skipLeft, chunk.length - from);
    this.skipLeft -= take;
    if (this.skipLeft === 0) this.mode = 'command';
    return from + take;
  }

  /** Passes DATA content on up to and including the line "."; returns where commands resume. */
  private passData(chunk: Buffer, from: number): number {
    const end = this.dataEnd.find(chunk, from);
    if (end < 0) {
      this.pass(chunk.subarray(from));
      return chunk.length;
    }
    this.pass(chunk.subarray(from, end));
    this.mode = 'command';
    this.pending.push('OTHER'); // the reply to the whole message
    return end;
  }

  // ---- Postfix → client ----------------------------------------------------------

  private answered(code: number): void {
    const what = this.pending.shift();
    if (what === 'DATA') this.dataAccepted = code === 354;
    if (!this.waiting || this.pending.length > 0) return;
    this.waiting = false;
    if (this.dataAccepted) {
      this.dataAccepted = false;
      this.mode = 'data';
      this.dataEnd.reset();
    }
    for (const r of this.queued.splice(0)) this.sendClient(r);
    this.release();
  }

  private release(): void {
    if (this.holding || this.held.length === 0) return;
    // The replies that released these bytes go first: the observer reads the client's bytes
    // as content or as commands by what Postfix answered to DATA.
    this.flushClient();
    const held = this.held;
    this.held = [];
    for (const b of held) this.fromClient(b); // in order: a later one is held again if need be
  }

  /** One of our own replies, after Postfix's queued ones; paced by `stalled`. */
  private sendClient(text: string): void {
    this.flushClient();
    if (!this.io.toClient(Buffer.from(text, 'latin1'), true)) this.stalled = true;
  }
}
