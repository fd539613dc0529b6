// Strict base64 for SASL client responses (IMAP RFC 3501 §6.2.2 /
// RFC 4959, SMTP RFC 4954 §4). Node's Buffer.from(s, 'base64') skips
// invalid characters, accepts base64url and missing padding; two different
// lines must never decode to the same credential, so we accept only the
// canonical RFC 4648 §4 encoding.
import { SaslError } from './types.js';
import { MAX_SASL_RESPONSE_BYTES } from '../../limits.js';

/** The SASL API's name for the limit (src/limits.ts). */
export const DEFAULT_MAX_SASL_RESPONSE_BYTES = MAX_SASL_RESPONSE_BYTES;

// Only SP and HTAB around the payload are forgiven: they cannot change the
// decoded bytes. (A loop, not a regex: /[ \t]+$/ is quadratic on inner blanks.)
function trimBlanks(s: string): string {
  const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t';
  let start = 0;
  let end = s.length;
  while (start < end && isBlank(s[start])) start++;
  while (end > start && isBlank(s[end - 1])) end--;
  return s.slice(start, end);
}

/**
 * Decode one client response line (without its CRLF). `=` alone and the
 * empty line both mean a zero-length response (RFC 4959 §3, RFC 4954 §4).
 * The IMAP cancel line `*` is the caller's to recognise first.
 */
export function decodeBase64Response(
  line: string | Uint8Array,
  maxDecodedBytes: number = DEFAULT_MAX_SASL_RESPONSE_BYTES,
): Buffer {
  if (!Number.isSafeInteger(maxDecodedBytes) || maxDecodedBytes < 0) {
    throw new RangeError('maxDecodedBytes must be a non-negative integer');
  }
  // latin1 maps each byte to one char, so any non-ASCII byte fails below.
  const text = typeof line === 'string' ? line : Buffer.from(line).toString('latin1');
  const encoded = trimBlanks(text);
  if (encoded === '' || encoded === '=') return Buffer.alloc(0);
  if (encoded.length > Math.ceil(maxDecodedBytes / 3) * 4) {
    throw new SaslError('ERR_SASL_TOO_LONG', `response over ${maxDecodedBytes} bytes`);
  }
  const decoded = Buffer.from(encoded, 'base64');
  // Re-encoding reproduces the input only if every character was in the
  // alphabet, padding was present and right, and the spare bits were zero.
  if (decoded.toString('base64') !== encoded) {
    throw new SaslError('ERR_SASL_BASE64', 'response is not valid base64');
  }
  if (decoded.length > maxDecodedBytes) {
    throw new SaslError('ERR_SASL_TOO_LONG', `response over ${maxDecodedBytes} bytes`);
  }
  return decoded;
}
