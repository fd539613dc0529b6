// Bounded framer for commands with IMAP literals: socket bytes in, events out, no I/O. IMAP
// (imap/framer.ts) and ManageSieve, which takes IMAP's strings and `{n}`/`{n+}` literals as
// they are (RFC 5804 §4), both read their clients with it.
//
// The session pushes chunks and pulls one event at a time, because between
// events it may change how the following bytes are read (a SASL continuation
// line after AUTHENTICATE, RFC 9051 §6.2.2) or throw them away (STARTTLS,
// RFC 9051 §6.2.1 / RFC 3501 §6.2.1: plaintext pipelined after the command
// must not be processed, the CVE-2011-0411 class).
//
// Memory is bounded by the limits whatever the peer sends: a line over
// maxLineBytes is skipped up to its LF without being buffered, a literal over
// maxLiteralBytes is refused before it is read, and push() stops buffering at
// maxBufferedBytes.

import { literalMarker } from './literal.js';
import { ByteQueue } from './byte-queue.js';

export interface FramerLimits {
  /**
   * Longest command line, without CRLF and without literal bodies. The text
   * parts of one command (around its literals) count together.
   */
  maxLineBytes: number;
  /** Largest literal; also caps the sum of all literal bodies in one command. */
  maxLiteralBytes: number;
  /**
   * Most bytes push() holds while nobody pulls (e.g. during an identity
   * provider call). Default 2 × maxLineBytes + maxLiteralBytes.
   */
  maxBufferedBytes?: number;
  /** The tag of a command line, named in errors (IMAP: imap/parser.ts peekTag); none by default. */
  tagOf?: (line: Buffer) => string | undefined;
}

export type FramerErrorCode = 'ERR_IMAP_LINE_TOO_LONG' | 'ERR_IMAP_LITERAL_TOO_BIG' | 'ERR_IMAP_BUFFER_FULL';

export type FramerEvent =
  /** Text parts and literal bodies alternating; text parts keep their trailing `{n}` / `{n+}`. */
  | { type: 'command'; segments: Buffer[] }
  /** One raw line without CRLF; only in mode 'line'. */
  | { type: 'line'; line: Buffer }
  /** A synchronizing literal was accepted: the session must send "+ ..." now (RFC 9051 §4.3). */
  | { type: 'literal-continue' }
  | { type: 'error'; code: FramerErrorCode; tag: string | undefined; fatal: boolean };

const LF = 0x0a;
const CR = 0x0d;

type Phase = 'line' | 'literal' | 'skip' | 'failed';

export class LiteralFramer {
  /**
   * How the next unit is read; the session may change it between next()
   * calls. It takes effect at the next line that starts a new command (a
   * command already inside a literal is finished in 'command' mode).
   */
  mode: 'command' | 'line' = 'command';

  readonly #maxLineBytes: number;
  readonly #maxLiteralBytes: number;
  readonly #maxBufferedBytes: number;
  readonly #tagOf: (line: Buffer) => string | undefined;
  readonly #queue = new ByteQueue();
  #phase: Phase = 'line';
  /** Bytes at the start of the queue already searched for LF without finding one. */
  #scanned = 0;
  /** next() has returned null since the last push: the queue holds at most one incomplete line. */
  #drained = true;
  /** push() refused bytes over maxBufferedBytes; reported by the next next(). */
  #overflow = false;
  #overflowTag: string | undefined;

  // The command being assembled across literals.
  #segments: Buffer[] = [];
  #tag: string | undefined;
  #textBytes = 0;
  #literalBytes = 0;
  #literal: Buffer | null = null;
  #literalFilled = 0;

  constructor(limits: FramerLimits) {
    this.#maxLineBytes = checkLimit('maxLineBytes', limits.maxLineBytes, 1);
    this.#maxLiteralBytes = checkLimit('maxLiteralBytes', limits.maxLiteralBytes, 0);
    this.#maxBufferedBytes =
      limits.maxBufferedBytes === undefined
        ? 2 * this.#maxLineBytes + this.#maxLiteralBytes
        : // A longest line with its CRLF must fit, or it could never complete.
          checkLimit('maxBufferedBytes', limits.maxBufferedBytes, this.#maxLineBytes + 2);
    this.#tagOf = limits.tagOf ?? (() => undefined);
  }

  /** Unconsumed bytes in the input queue (a literal being read is held apart, at most maxLiteralBytes). */
  get bufferedBytes(): number {
    return this.#queue.length;
  }

  /**
   * Buffer a chunk; cheap. Call next() afterwards. The first chunk after
   * next() returned null is always taken (one socket read); further chunks
   * pushed without pulling must fit in maxBufferedBytes.
   */
  push(chunk: Buffer): void {
    if (this.#phase === 'failed' || this.#overflow) return;
    let data = chunk;
    if (this.#phase === 'skip') {
      // Still inside an over-long line: drop up to its LF without buffering.
      const lf = data.indexOf(LF);
      if (lf === -1) return;
      data = data.subarray(lf + 1);
      this.#phase = 'line';
    }
    if (data.length === 0) return;
    if (!this.#drained && this.#queue.length + data.length > this.#maxBufferedBytes) {
      this.#overflow = true;
      this.#overflowTag = this.#segments.length > 0 ? this.#tag : this.#peekQueueTag();
      this.#queue.clear();
      this.#resetCommand();
      return;
    }
    this.#queue.append(data);
    this.#drained = false;
  }

  /** The next event, or null when more bytes are needed (or after a fatal error). */
  next(): FramerEvent | null {
    if (this.#phase === 'failed') return null;
    if (this.#overflow) return this.#fail('ERR_IMAP_BUFFER_FULL', this.#overflowTag);
    for (;;) {
      let event: FramerEvent | null | undefined;
      if (this.#phase === 'skip') event = null; // the queue is empty while skipping
      else if (this.#phase === 'literal') event = this.#fillLiteral() ? undefined : null;
      else event = this.#readLine();
      if (event === null) this.#drained = true;
      if (event !== undefined) return event;
    }
  }

  /** All buffered unconsumed bytes, for the hand-over to the backend; the framer is empty afterwards. */
  takeRemaining(): Buffer {
    const rest = Buffer.from(this.#queue.view(0, this.#queue.length));
    this.#clear();
    this.#queue.release(); // the framer's work is done; a logged-in session keeps no buffer
    return rest;
  }

  /** Drop everything buffered (after STARTTLS, RFC 9051 §6.2.1). */
  discard(): void {
    this.#clear();
  }

  #clear(): void {
    this.#queue.clear();
    this.#resetCommand();
    this.#overflow = false;
    this.#drained = true;
    if (this.#phase !== 'failed') this.#phase = 'line';
  }

  /** One line ending in LF (or CRLF): an event, null for "need more", undefined for "progress, go on". */
  #readLine(): FramerEvent | null | undefined {
    // Nothing buffered (the greeting's pump, every read that ended on a line end): no view to make.
    if (this.#queue.length === 0) {
      this.#scanned = 0;
      return null;
    }
    const inCommand = this.#segments.length > 0;
    const budget = this.#maxLineBytes - this.#textBytes;
    // Never look further than budget + CR + LF: the line is too long past that.
    const view = this.#queue.view(0, Math.min(this.#queue.length, budget + 2));
    const lf = view.indexOf(LF, this.#scanned);
    if (lf === -1) {
      if (view.length < budget + 2) {
        this.#scanned = view.length;
        return null;
      }
      return this.#lineTooLong(view, budget);
    }
    const end = lf > 0 && view[lf - 1] === CR ? lf - 1 : lf;
    if (end > budget) return this.#lineTooLong(view, budget);
    const line = Buffer.from(view.subarray(0, end));
    this.#queue.consume(lf + 1);
    this.#scanned = 0;
    if (!inCommand && this.mode === 'line') return { type: 'line', line };
    return this.#commandLine(line);
  }

  #commandLine(line: Buffer): FramerEvent | undefined {
    if (this.#segments.length === 0) this.#tag = this.#tagOf(line);
    const literal = literalMarker(line);
    if (literal === undefined) {
      const segments = this.#segments;
      segments.push(line);
      this.#resetCommand();
      return { type: 'command', segments };
    }
    const tag = this.#tag;
    if (this.#literalBytes + literal.size > this.#maxLiteralBytes) {
      this.#resetCommand();
      // RFC 9051 §4.3 / RFC 7888 §4: refuse a synchronizing literal before "+",
      // the client then sends nothing more for this command. A non-synchronizing
      // one is coming anyway: the stream is lost.
      if (literal.sync) return { type: 'error', code: 'ERR_IMAP_LITERAL_TOO_BIG', tag, fatal: false };
      return this.#fail('ERR_IMAP_LITERAL_TOO_BIG', tag);
    }
    this.#segments.push(line);
    this.#textBytes += line.length;
    this.#literalBytes += literal.size;
    this.#literal = Buffer.alloc(literal.size);
    this.#literalFilled = 0;
    this.#phase = 'literal';
    return literal.sync ? { type: 'literal-continue' } : undefined;
  }

  /** Move literal body bytes out of the queue; true once the body is complete. */
  #fillLiteral(): boolean {
    const body = this.#literal!;
    const n = Math.min(body.length - this.#literalFilled, this.#queue.length);
    this.#queue.view(0, n).copy(body, this.#literalFilled);
    this.#queue.consume(n);
    this.#literalFilled += n;
    if (this.#literalFilled < body.length) return false;
    this.#segments.push(body);
    this.#literal = null;
    this.#phase = 'line';
    return true;
  }

  /** Report the line (tagged if its start shows a tag), then skip to its LF. */
  #lineTooLong(view: Buffer, budget: number): FramerEvent {
    // Read the tag from a window that does not depend on how bytes were chunked.
    let tag: string | undefined;
    if (this.#segments.length > 0) tag = this.#tag;
    else if (this.mode === 'command') tag = this.#tagOf(view.subarray(0, budget + 1));
    this.#resetCommand();
    this.#scanned = 0;
    const lf = this.#queue.indexOf(LF);
    if (lf === -1) {
      this.#queue.clear();
      this.#phase = 'skip';
    } else {
      this.#queue.consume(lf + 1);
    }
    return { type: 'error', code: 'ERR_IMAP_LINE_TOO_LONG', tag, fatal: false };
  }

  #fail(code: FramerErrorCode, tag: string | undefined): FramerEvent {
    this.#phase = 'failed';
    this.#queue.clear();
    this.#resetCommand();
    this.#overflow = false;
    return { type: 'error', code, tag, fatal: true };
  }

  #peekQueueTag(): string | undefined {
    if (this.mode !== 'command') return undefined;
    return this.#tagOf(this.#queue.view(0, Math.min(this.#queue.length, this.#maxLineBytes + 1)));
  }

  #resetCommand(): void {
    this.#segments = [];
    this.#tag = undefined;
    this.#textBytes = 0;
    this.#literalBytes = 0;
    this.#literal = null;
    this.#literalFilled = 0;
  }
}

function checkLimit(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`FramerLimits.${name} must be an integer >= ${min}`);
  }
  return value;
}
