// Parser for one framed IMAP command (the `segments` of an ImapFramer
// 'command' event): bytes in, ImapCommand or ImapParseError out.
//
// Covers the part of the RFC 9051 §9 / RFC 3501 §9 grammar that the
// pre-auth phase needs: tag, command name, atoms/astrings, quoted strings,
// literals ({n} and RFC 7888 {n+}), NIL and parenthesized lists (RFC 2971 ID).
// Error messages are fixed strings: argument values may be passwords and must
// never reach a log line or a reply.
import { asciiUpper } from '../auth/address.js';
import { MAX_IMAP_LIST_DEPTH, MAX_IMAP_LITERAL_DIGITS } from '../limits.js';

export type ImapArg =
  | { type: 'atom'; value: string }
  | { type: 'string'; value: Buffer; literal: boolean }
  | { type: 'nil' }
  | { type: 'list'; items: ImapArg[] };

export interface ImapCommand {
  tag: string;
  /** Upper-cased command name. */
  name: string;
  args: ImapArg[];
}

export class ImapParseError extends Error {
  readonly code = 'ERR_IMAP_SYNTAX' as const;
  readonly tag: string | undefined;
  constructor(message: string, tag: string | undefined, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ImapParseError';
    this.tag = tag;
  }
}


const SP = 0x20;
const DQUOTE = 0x22;
const PERCENT = 0x25;
const LPAREN = 0x28;
const RPAREN = 0x29;
const ASTERISK = 0x2a;
const PLUS = 0x2b;
const BACKSLASH = 0x5c;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const NUL = 0x00;
const LF = 0x0a;
const CR = 0x0d;

/** RFC 9051 §9: ATOM-CHAR = <any CHAR except atom-specials>. */
function isAtomChar(c: number): boolean {
  if (c <= 0x1f || c >= 0x7f) return false; // CTL, and 8-bit is not CHAR
  switch (c) {
    case SP:
    case LPAREN:
    case RPAREN:
    case LBRACE:
    case PERCENT: // list-wildcards
    case ASTERISK:
    case DQUOTE: // quoted-specials
    case BACKSLASH:
    case RBRACKET: // resp-specials
      return false;
    default:
      return true;
  }
}

/** RFC 9051 §9: ASTRING-CHAR = ATOM-CHAR / resp-specials. */
function isAstringChar(c: number): boolean {
  return c === RBRACKET || isAtomChar(c);
}

/** RFC 9051 §9: tag = 1*<any ASTRING-CHAR except "+">. */
function isTagChar(c: number): boolean {
  return c !== PLUS && isAstringChar(c);
}

/**
 * The tag at the start of a command line, if it is well formed and followed
 * by SP; otherwise undefined. Used by the framer to tag its error events.
 */
export function peekTag(line: Buffer): string | undefined {
  let i = 0;
  while (i < line.length && isTagChar(line[i]!)) i++;
  if (i === 0 || i >= line.length || line[i] !== SP) return undefined;
  return line.toString('latin1', 0, i);
}

/** Atom or string value as text (strings decoded as UTF-8); undefined for NIL and lists. */
export function argToString(arg: ImapArg): string | undefined {
  switch (arg.type) {
    case 'atom':
      return arg.value;
    case 'string':
      return arg.value.toString('utf8');
    default:
      return undefined;
  }
}

/** Position in the alternating [text, literal, text, ...] segments. */
class Reader {
  seg = 0;
  pos = 0;
  constructor(
    readonly segments: readonly Buffer[],
    readonly tag: string | undefined,
  ) {}

  get text(): Buffer {
    return this.segments[this.seg]!;
  }

  /** Next byte of the current text segment; undefined at its end. */
  peek(): number | undefined {
    return this.pos < this.text.length ? this.text[this.pos] : undefined;
  }

  atEnd(): boolean {
    return this.seg === this.segments.length - 1 && this.pos >= this.text.length;
  }

  skipSpaces(): void {
    while (this.peek() === SP) this.pos++;
  }

  fail(message: string): never {
    throw new ImapParseError(message, this.tag);
  }
}

/**
 * Parse a framed command. Throws ImapParseError (carrying the tag when one
 * could be read) and nothing else.
 */
export function parseCommand(segments: Buffer[]): ImapCommand {
  if (
    !Array.isArray(segments) ||
    segments.length % 2 === 0 ||
    !segments.every((s) => Buffer.isBuffer(s))
  ) {
    throw new ImapParseError('Malformed command segments', undefined);
  }
  const tag = peekTag(segments[0]!);
  try {
    return parseTagged(new Reader(segments, tag));
  } catch (err) {
    if (err instanceof ImapParseError) throw err;
    // Defensive: the contract is "ImapParseError only"; keep the bug visible as cause.
    throw new ImapParseError('Malformed command', tag, { cause: err });
  }
}

function parseTagged(r: Reader): ImapCommand {
  const tag = r.tag;
  if (tag === undefined) r.fail('Missing or invalid tag');
  r.pos = tag.length + 1;

  const nameStart = r.pos;
  while (r.pos < r.text.length && isAtomChar(r.text[r.pos]!)) r.pos++;
  if (r.pos === nameStart) r.fail('Missing or invalid command name');
  const name = asciiUpper(r.text.toString('latin1', nameStart, r.pos));

  // RFC 9051 §9 separates arguments with a single SP; extra (and trailing)
  // spaces are tolerated, as Dovecot does.
  const args: ImapArg[] = [];
  let needSeparator = true;
  while (!r.atEnd()) {
    const c = r.peek();
    if (c === SP) {
      r.skipSpaces();
      needSeparator = false;
      continue;
    }
    if (c === undefined || needSeparator) r.fail('Expected space between arguments');
    args.push(parseValue(r, 0));
    needSeparator = true;
  }
  return { tag, name, args };
}

function parseValue(r: Reader, depth: number): ImapArg {
  switch (r.peek()) {
    case LPAREN:
      return parseList(r, depth);
    case DQUOTE:
      return parseQuoted(r);
    case LBRACE:
      return parseLiteral(r);
    default:
      return parseAtom(r);
  }
}

/** RFC 9051 §9 astring's atom form (ASTRING-CHAR); "NIL" in any case is nil. */
function parseAtom(r: Reader): ImapArg {
  const start = r.pos;
  while (r.pos < r.text.length && isAstringChar(r.text[r.pos]!)) r.pos++;
  if (r.pos === start) r.fail('Unexpected character in arguments');
  const value = r.text.toString('latin1', start, r.pos);
  // The length first: an initial response is an atom of hundreds of letters, folded for nothing.
  return value.length === 3 && asciiUpper(value) === 'NIL' ? { type: 'nil' } : { type: 'atom', value };
}

/**
 * RFC 9051 §9: quoted = DQUOTE *QUOTED-CHAR DQUOTE, where only `\"` and `\\`
 * are escapes. 8-bit bytes pass through (UTF-8 quoted strings, RFC 9051 §4.3).
 */
function parseQuoted(r: Reader): ImapArg {
  const text = r.text;
  const start = r.pos + 1; // after the opening DQUOTE
  // First find the closing DQUOTE and count the escapes, then copy once: a buffer sized
  // to the rest of the line per string made a line of many short strings ("" "" ...)
  // quadratic (~170 ms of event loop per 32 KiB line, for every client of the proxy).
  let i = start;
  let escapes = 0;
  for (;;) {
    if (i >= text.length) return r.fail('Unterminated quoted string');
    const c = text[i]!;
    if (c === DQUOTE) break;
    if (c === BACKSLASH) {
      const escaped = text[i + 1];
      if (escaped !== DQUOTE && escaped !== BACKSLASH) r.fail('Invalid escape in quoted string');
      escapes++;
      i += 2;
      continue;
    }
    if (c === NUL || c === CR || c === LF) r.fail('Invalid character in quoted string');
    i++;
  }
  r.pos = i + 1;
  if (escapes === 0) return { type: 'string', value: Buffer.from(text.subarray(start, i)), literal: false };
  const out = Buffer.alloc(i - start - escapes);
  let n = 0;
  for (let j = start; j < i; j++) {
    if (text[j] === BACKSLASH) j++;
    out[n++] = text[j]!;
  }
  return { type: 'string', value: out, literal: false };
}

/**
 * RFC 9051 §4.3 / RFC 7888: "{" n ["+"] "}" ends its text segment; the
 * framer put the n body bytes into the next segment.
 */
function parseLiteral(r: Reader): ImapArg {
  const text = r.text;
  let i = r.pos + 1;
  const digitsStart = i;
  while (i < text.length && text[i]! >= 0x30 && text[i]! <= 0x39) i++;
  const digits = i - digitsStart;
  if (digits === 0 || digits > MAX_IMAP_LITERAL_DIGITS) r.fail('Invalid literal');
  const size = Number(text.toString('latin1', digitsStart, i));
  if (text[i] === PLUS) i++;
  if (text[i] !== RBRACE || i + 1 !== text.length) r.fail('Invalid literal');
  const body = r.segments[r.seg + 1];
  if (body === undefined) r.fail('Missing literal body');
  if (body.length !== size) r.fail('Literal length mismatch');
  r.seg += 2;
  r.pos = 0;
  return { type: 'string', value: body, literal: true };
}

/** RFC 9051 §9 parenthesized list, e.g. RFC 2971 id-params-list. */
function parseList(r: Reader, depth: number): ImapArg {
  if (depth >= MAX_IMAP_LIST_DEPTH) r.fail('Lists nested too deeply');
  r.pos++; // "("
  const items: ImapArg[] = [];
  let needSeparator = false;
  for (;;) {
    const c = r.peek();
    if (c === undefined) r.fail('Unterminated list');
    if (c === RPAREN) {
      r.pos++;
      return { type: 'list', items };
    }
    if (c === SP) {
      r.skipSpaces();
      needSeparator = false;
      continue;
    }
    if (needSeparator) r.fail('Expected space between list items');
    items.push(parseValue(r, depth + 1));
    needSeparator = true;
  }
}
