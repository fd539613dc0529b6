// Mail addresses the way DMS and Dovecot see them. Dovecot lower-cases user names with
// ASCII rules only (auth_username_format %Lu; str_lcase is byte-wise), and its default
// auth_username_chars admits nothing but ASCII: so a mailbox is ASCII, and case folding here
// must be ASCII too. JavaScript's toLowerCase() follows Unicode: it maps KELVIN SIGN
// (U+212A) to "k", so "\u212Aate@x" would become another person's "kate@x" (issue 16).
// toUpperCase() maps "ı" to "I" and "ſ" to "S" the same way.
import { MAX_ADDRESS_CHARS } from '../limits.js';

/** Lower-cases A-Z only; every other character is kept as it is. */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 0x20));
}

/** Upper-cases a-z only (protocol keywords: RFC 5234 §2.3 strings are ASCII-case-insensitive). */
export function asciiUpper(s: string): string {
  return s.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) & ~0x20));
}

/** Removes ASCII blanks (SP, HT, CR, LF, VT, FF) at both ends; Unicode spaces are kept, and then refused. */
export function asciiTrim(s: string): string {
  return s.replace(/^[ \t\r\n\v\f]+|[ \t\r\n\v\f]+$/g, '');
}

// Narrower than RFC 5321 on purpose: no character that is a separator in postfix-accounts.cf
// (|), postfix-virtual.cf (blanks, commas) or Dovecot's passwd-file (:), and no SMTPUTF8.
const ADDRESS = /^[a-z0-9!#$%&'*+/=?^_`{}~.-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;

/**
 * The canonical form (ASCII lower case) of `s` when it is an address DMS can hold, else null.
 * Nothing is trimmed or folded beyond A-Z: a value that needs more is another identity.
 */
export function canonicalAddress(s: string): string | null {
  const a = asciiLower(s);
  if (a.length > MAX_ADDRESS_CHARS || !ADDRESS.test(a)) return null;
  const local = a.slice(0, a.lastIndexOf('@'));
  if (local.length > 64 || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return null;
  return a;
}
