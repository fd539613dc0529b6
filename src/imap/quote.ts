// Server-side formatting of IMAP strings for replies (RFC 9051 §4.3, §9).
//
// Only quoted strings are produced: a literal in an untagged reply would need
// the caller to handle framing, and nothing the proxy says pre-auth needs one.
import { MAX_ID_FIELD_BYTES, MAX_ID_PAIRS, MAX_ID_VALUE_BYTES } from '../limits.js';

export class ImapQuoteError extends Error {
  readonly code = 'ERR_IMAP_UNQUOTABLE' as const;
  constructor() {
    // No value in the message: callers may pass user-supplied text.
    super('String cannot be sent as an IMAP quoted string');
    this.name = 'ImapQuoteError';
  }
}

/**
 * Printable ASCII only. RFC 9051 §9 QUOTED-CHAR also admits other CHARs and,
 * with UTF8=ACCEPT, UTF-8; we are stricter so that what we emit is safe for
 * every client and every log line.
 */
const QUOTABLE = /^[\x20-\x7e]*$/;

export function isQuotable(s: string): boolean {
  return QUOTABLE.test(s);
}

/** `"..."` with `\` and `"` escaped (RFC 9051 §9 quoted-specials); throws ImapQuoteError when not quotable. */
export function quoteString(s: string): string {
  if (!isQuotable(s)) throw new ImapQuoteError();
  return `"${s.replace(/[\\"]/g, '\\$&')}"`;
}

/**
 * RFC 2971 id-params-list: `("k" "v" ...)`, or `NIL` when nothing is left.
 * Pairs that are not quotable or break the §3.3 limits are left out.
 */
export function formatIdList(fields: Record<string, string>): string {
  const parts: string[] = [];
  for (const [field, value] of Object.entries(fields)) {
    if (parts.length >= MAX_ID_PAIRS * 2) break;
    if (typeof value !== 'string') continue;
    if (field.length === 0 || field.length > MAX_ID_FIELD_BYTES || value.length > MAX_ID_VALUE_BYTES) continue;
    if (!isQuotable(field) || !isQuotable(value)) continue;
    parts.push(quoteString(field), quoteString(value));
  }
  return parts.length === 0 ? 'NIL' : `(${parts.join(' ')})`;
}
