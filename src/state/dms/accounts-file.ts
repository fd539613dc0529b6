// postfix-accounts.cf: one `user@domain|{SCHEME}hash` per line (DMS's setup email add).
// The proxy appends lines for the accounts it creates and removes only those.
import { appendLine, content, isComment, splitLines } from './lines.js';
import { asciiLower, asciiTrim } from '../../auth/address.js';
import { unusablePasswordHash } from './sha512-crypt.js';

export const ACCOUNTS_FILE = 'postfix-accounts.cf';

const addressOf = (line: string): string | null =>
  (isComment(line) ? null : asciiLower(asciiTrim(content(line).split('|', 1)[0]!)));

/** Lower-cased addresses of every account line. */
export function accountAddresses(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of splitLines(text)) {
    const a = addressOf(line);
    if (a) out.add(a);
  }
  return out;
}

export function addAccount(text: string, address: string, passwordHash: string): string {
  return appendLine(text, `${address}|${passwordHash}`);
}

/**
 * The account of a user who logs in only through the proxy (SCIM, first login): a password
 * hash nobody knows, so no password login can match it (see unusablePasswordHash).
 */
export function addOAuthAccount(text: string, address: string): string {
  return addAccount(text, address, unusablePasswordHash());
}

/** Drops the lines of `address`; every other line stays as it was. */
export function removeAccount(text: string, address: string): string {
  return splitLines(text).filter((l) => addressOf(l) !== address).join('');
}
