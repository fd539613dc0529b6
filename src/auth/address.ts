// Mail addresses the way DMS and Dovecot see them. Dovecot's default auth_username_chars admits
// nothing but ASCII: so a mailbox is ASCII, and case folding here is ASCII too (src/ascii.ts says why).
import { MAX_ADDRESS_CHARS } from '../limits.js';
import { asciiLower } from '../ascii.js';

// The folding helpers live on the bottom floor (config/ needs them too); auth's callers import them from here.
export { asciiLower, asciiUpper, asciiTrim } from '../ascii.js';

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
