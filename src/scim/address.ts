// Mail addresses as DMS stores them: lower-case ASCII `local@domain`. Narrower than RFC 5321
// on purpose: no character that is a separator in postfix-accounts.cf (|), postfix-virtual.cf
// (blanks, commas) or Dovecot's passwd-file (:), and no SMTPUTF8.
const ADDRESS = /^[a-z0-9!#$%&'*+/=?^_`{}~.-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;
const MAX_ADDRESS_CHARS = 254; // RFC 5321 §4.5.3.1.3 path limit minus the brackets

/** The canonical (lower-cased) address, or null when `raw` is not one DMS can hold. */
export function mailAddress(raw: string): string | null {
  const a = raw.trim().toLowerCase();
  if (a.length > MAX_ADDRESS_CHARS || !ADDRESS.test(a)) return null;
  const local = a.slice(0, a.lastIndexOf('@'));
  if (local.length > 64 || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return null;
  return a;
}
