// Mail addresses as DMS can hold them as accounts and aliases: lower-case ASCII
// `local@domain`, much narrower than RFC 5321 on purpose. Each rule is a place where DMS or
// the programs it feeds would take the address apart:
//  - postfix-accounts.cf is `user@domain|{SCHEME}hash` per line, a line starting with `#`
//    is a comment (DMS skips it: a `#...` account is written but never exists, and is never
//    found again to be removed), and DMS splits USER and DOMAIN at the first `@`;
//  - Dovecot's userdb line is `:`-separated, its home /var/mail/<domain>/<user> is a path
//    (no `/`), postfix-virtual.cf and vmailbox are blank-separated;
//  - Dovecot refuses a login whose name has a character outside auth_username_chars, which
//    DMS leaves at its default `a-z A-Z 0-9 . - _ @`: an account with `+`, `#`, `!`, `'`, ...
//    could never log in. `+` is also Postfix's recipient_delimiter in DMS (a+b is a's
//    sub-address);
//  - a local part starting with `-` reads as an option to DMS's `setup email` commands;
//  - no SMTPUTF8 (non-ASCII) and no single-label or numeric-only domains.
// Nothing is trimmed or repaired: a value with any other character is refused (400).
import { MAX_ADDRESS_CHARS } from '../../limits.js';

const LOCAL = /^[a-z0-9_](?:[a-z0-9._-]*[a-z0-9_-])?$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const MAX_LOCAL_CHARS = 64; // RFC 5321 §4.5.3.1.1
const MAX_LABEL_CHARS = 63; // RFC 1035 §2.3.4

/** The canonical (lower-cased) address, or null when `raw` is not one DMS can hold. */
export function mailAddress(raw: string): string | null {
  // ASCII before lower-casing: 'K' (U+212A KELVIN SIGN) lower-cases to an ASCII 'k'.
  if (!/^[\x21-\x7e]+$/.test(raw)) return null;
  const a = raw.toLowerCase();
  if (a.length > MAX_ADDRESS_CHARS) return null;
  const at = a.indexOf('@');
  if (at < 0 || at !== a.lastIndexOf('@')) return null;
  const local = a.slice(0, at);
  const labels = a.slice(at + 1).split('.');
  if (local.length > MAX_LOCAL_CHARS || !LOCAL.test(local) || local.includes('..')) return null;
  if (labels.length < 2 || /^[0-9]+$/.test(labels.at(-1)!)) return null;
  return labels.every((l) => l.length <= MAX_LABEL_CHARS && LABEL.test(l)) ? a : null;
}
