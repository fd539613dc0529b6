// The literal marker that ends an IMAP line: how many bytes follow, and whether the client
// waits for "+" first. Pure: a line in, the marker or undefined out.
import { MAX_IMAP_LITERAL_DIGITS } from '../limits.js';

const LBRACE = 0x7b;
const RBRACE = 0x7d;
const PLUS = 0x2b;

/** `{n}` or `{n+}` (RFC 9051 §4.3, RFC 7888) at the very end of a line. */
export function literalMarker(line: Buffer): { size: number; sync: boolean } | undefined {
  let i = line.length - 1;
  if (i < 2 || line[i] !== RBRACE) return undefined;
  i--;
  const sync = line[i] !== PLUS;
  if (!sync) i--;
  const digitsEnd = i + 1;
  while (i >= 0 && digitsEnd - i <= MAX_IMAP_LITERAL_DIGITS && line[i]! >= 0x30 && line[i]! <= 0x39) i--;
  const digits = digitsEnd - i - 1;
  if (digits === 0 || i < 0 || line[i] !== LBRACE) return undefined;
  return { size: Number(line.toString('latin1', i + 1, digitsEnd)), sync };
}
