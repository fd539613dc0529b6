// ManageSieve strings (RFC 5804 §4): a framed command in, its name and arguments out; and the
// quoted strings of the replies. Bytes come from the literal framer (net/literal-framer.ts), whose
// `{n+}` literals are the same as RFC 5804's literal-c2s; this only reads what it framed.
// Errors carry fixed texts: an argument may be a SASL response and must never reach a log.

import { MAX_IMAP_LITERAL_DIGITS } from '../limits.js';

export type SieveArg =
  /** A quoted string or a literal (RFC 5804 §4 string). */
  | { readonly type: 'string'; readonly value: Buffer; readonly literal: boolean }
  /** A bare word or number (auth-type and command names are strings, but clients send atoms too). */
  | { readonly type: 'atom'; readonly value: string };

export interface SieveCommand {
  /** Upper-cased (ASCII) command name. */
  readonly name: string;
  readonly args: readonly SieveArg[];
}

export class SieveParseError extends Error {
  readonly code = 'ERR_SIEVE_SYNTAX' as const;
  override readonly name = 'SieveParseError';
}

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

/** A literal marker at the end of a text segment: `{n+}` or `{n}` (RFC 5804 §4 literal-c2s). */
const LITERAL_MARKER = new RegExp(`\\{(\\d{1,${MAX_IMAP_LITERAL_DIGITS}})\\+?\\}$`);

/**
 * Reads one framed command: `segments` alternate text parts (ending in a literal marker
 * when a literal follows) and literal bodies, as ImapFramer's 'command' event gives them.
 */
export function parseCommand(segments: readonly Buffer[]): SieveCommand {
  const args = parseStrings(segments);
  const first = args[0];
  if (!first || first.type !== 'atom') throw new SieveParseError('missing command name');
  return { name: asciiUpper(first.value), args: args.slice(1) };
}

/** A client's response in a SASL exchange: exactly one string (RFC 5804 §2.1). */
export function parseResponse(segments: readonly Buffer[]): Buffer {
  const args = parseStrings(segments);
  const only = args[0];
  if (args.length !== 1 || !only || only.type !== 'string') throw new SieveParseError('a SASL response must be one string');
  return only.value;
}

/** The text of a string or atom argument (latin1: callers check what they accept). */
export function argText(arg: SieveArg | undefined): string | undefined {
  if (!arg) return undefined;
  return arg.type === 'atom' ? arg.value : arg.value.toString('latin1');
}

function parseStrings(segments: readonly Buffer[]): SieveArg[] {
  const out: SieveArg[] = [];
  for (let s = 0; s < segments.length; s += 2) {
    let text = segments[s]!;
    const literal = s + 1 < segments.length ? segments[s + 1]! : null;
    if (literal) {
      const m = LITERAL_MARKER.exec(text.toString('latin1'));
      if (!m) throw new SieveParseError('literal without marker');
      text = text.subarray(0, text.length - m[0].length);
    }
    readWords(text, out, s > 0);
    if (literal) {
      // The marker must stand as a word of its own: `AUTHENTICATE "PLAIN" {12+}`.
      if (text.length > 0 && text[text.length - 1] !== SP) throw new SieveParseError('literal marker inside a word');
      out.push({ type: 'string', value: literal, literal: true });
    }
  }
  return out;
}

/** Single-space-separated quoted strings and atoms of one text part; `afterLiteral`: it continues a line after a literal body. */
function readWords(text: Buffer, out: SieveArg[], afterLiteral: boolean): void {
  let i = 0;
  let needSpace = afterLiteral;
  while (i < text.length) {
    if (needSpace) {
      if (text[i] !== SP) throw new SieveParseError('missing space');
      needSpace = false;
      i += 1;
      continue; // a trailing space (before a literal marker) ends the part
    }
    if (text[i] === DQUOTE) {
      const { value, end } = readQuoted(text, i);
      out.push({ type: 'string', value, literal: false });
      i = end;
    } else {
      let end = text.indexOf(SP, i);
      if (end < 0) end = text.length;
      const word = text.toString('latin1', i, end);
      if (!/^[\x21-\x7e]+$/.test(word) || word.includes('"') || word.includes('{')) throw new SieveParseError('invalid atom');
      out.push({ type: 'atom', value: word });
      i = end;
    }
    needSpace = true;
  }
}

/** RFC 5804 §4: quoted = DQUOTE *QUOTED-CHAR DQUOTE, with `\"` and `\\` escaped; no CR, LF, NUL. */
function readQuoted(text: Buffer, start: number): { value: Buffer; end: number } {
  const bytes: number[] = [];
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === DQUOTE) return { value: Buffer.from(bytes), end: i + 1 };
    if (c === 0x00 || c === 0x0a || c === 0x0d) throw new SieveParseError('control character in a quoted string');
    if (c === BACKSLASH) {
      const next = text[i + 1];
      if (next !== DQUOTE && next !== BACKSLASH) throw new SieveParseError('invalid escape in a quoted string');
      bytes.push(next);
      i += 1;
      continue;
    }
    bytes.push(c);
  }
  throw new SieveParseError('unterminated quoted string');
}

/** `"…"` for a reply (RFC 5804 §4), printable ASCII only: what we say is safe for every client and log. */
export function quote(s: string): string {
  return `"${s.replace(/[^\x20-\x7e]/g, '?').replace(/[\\"]/g, '\\$&')}"`;
}

function asciiUpper(s: string): string {
  return s.replace(/[a-z]/g, (c) => c.toUpperCase());
}
