// Checks on client-supplied text fields (user names, OAUTHBEARER host),
// shared by IMAP and SMTP and by every mechanism.
import { isUtf8 } from 'node:buffer';
import { SaslError } from './types.js';
import { MAX_SASL_FIELD_BYTES } from '../../limits.js';

/** The SASL API's name for the limit (src/limits.ts): the default cap for names and passwords. */
export const MAX_FIELD_BYTES = MAX_SASL_FIELD_BYTES;

// C0, DEL and C1 controls (\p{Cc}), Unicode line/paragraph separators and
// bidi overrides/isolates: each can forge or reorder a log line.
const UNSAFE_CHAR = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** Strict UTF-8 (no overlongs, no surrogates), throwing ERR_SASL_UTF8. */
export function decodeUtf8(bytes: Uint8Array, field: string): string {
  if (!isUtf8(bytes)) throw new SaslError('ERR_SASL_UTF8', `${field} is not valid UTF-8`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** Non-empty, at most maxBytes of UTF-8, no NUL or control characters. */
export function validateText(s: string, field: string, maxBytes: number = MAX_FIELD_BYTES): string | SaslError {
  if (s === '') return new SaslError('ERR_SASL_EMPTY', `${field} is empty`);
  const bytes = Buffer.byteLength(s, 'utf8');
  if (bytes > maxBytes) return new SaslError('ERR_SASL_TOO_LONG', `${field} is ${bytes} bytes, limit ${maxBytes}`);
  if (s.includes('\0')) return new SaslError('ERR_SASL_NUL', `${field} contains NUL`);
  if (UNSAFE_CHAR.test(s)) return new SaslError('ERR_SASL_CONTROL', `${field} contains a control character`);
  return s;
}

/** A user name as given (case preserved), or why it is refused. */
export function validateUsername(s: string, maxBytes: number = MAX_FIELD_BYTES): string | SaslError {
  return validateText(s, 'user name', maxBytes);
}

/** validateUsername for decoders, which throw. */
export function requireUsername(s: string, maxBytes: number = MAX_FIELD_BYTES): string {
  const checked = validateUsername(s, maxBytes);
  if (checked instanceof SaslError) throw checked;
  return checked;
}
