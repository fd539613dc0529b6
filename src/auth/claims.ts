// Which mailbox a token belongs to. The identity comes from the IdP's claims only; the
// SASL user name a client sends is merely checked against it.
import { get } from 'wild-wild-path';
import { asciiLower, asciiTrim, canonicalAddress } from './address.js';
import { MASTER_SEPARATOR } from './master-login.js';
import type { Claims } from './token-result.js';

export type MappedUser = { ok: true; user: string; claim: string } | { ok: false; reason: string };

/**
 * `attribute` is a wild-wild-path query; space-separated alternatives are tried in order
 * (`email preferred_username`): the first that yields a mailbox wins. A bare name gets
 * `defaultDomain` appended when one is configured. The result is lower-cased the way
 * Dovecot does it (A-Z only); a claim that is not an ASCII address as it stands (blanks,
 * non-ASCII letters, Dovecot's master separator) names no mailbox.
 */
export function mapUsername(claims: Claims, attribute: string, defaultDomain = ''): MappedUser {
  const skipped: string[] = [];
  for (const path of attribute.split(/\s+/).filter(Boolean)) {
    let value: unknown;
    try {
      value = get(claims, path);
    } catch {
      return { ok: false, reason: `invalid claim path ${path}` };
    }
    if (typeof value !== 'string' || value === '') continue;
    const named = !value.includes('@') && defaultDomain ? `${value}@${defaultDomain}` : value;
    const user = named.includes(MASTER_SEPARATOR) ? null : canonicalAddress(named);
    if (!user) {
      skipped.push(`claim ${path} is not a mailbox address (ASCII local@domain, as DMS accounts are)`);
      continue;
    }
    return { ok: true, user, claim: path };
  }
  return { ok: false, reason: skipped.length ? skipped.join('; ') : `no claim ${attribute} in the token's identity` };
}

/**
 * RFC 7628 §3.2 leaves the authzid policy to us: it must name the token's own user, compared
 * the way Dovecot compares names (ASCII case only), so "\u212Aate@x" never matches "kate@x".
 */
export function sameUser(saslUser: string | undefined, tokenUser: string): boolean {
  return saslUser === undefined || saslUser === '' || asciiLower(asciiTrim(saslUser)) === tokenUser;
}
