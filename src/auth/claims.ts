// Which mailbox a token belongs to. The identity comes from the IdP's claims only; the
// SASL user name a client sends is merely checked against it.
import { get } from 'wild-wild-path';
import type { Claims } from './token-result.js';

// A mailbox address as DMS accounts are: local@domain, no spaces or control characters.
const MAILBOX = /^[^\s@\x00-\x1f\x7f"*]+@[^\s@\x00-\x1f\x7f"*]+$/;

export type MappedUser = { ok: true; user: string; claim: string } | { ok: false; reason: string };

/**
 * `attribute` is a wild-wild-path query; space-separated alternatives are tried in order
 * (`email preferred_username`): the first that yields a mailbox wins. A bare name gets
 * `defaultDomain` appended when one is configured. The result is lower-cased.
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
    if (typeof value !== 'string' || value.trim() === '') continue;
    let user = value.trim().toLowerCase();
    if (!user.includes('@') && defaultDomain) user = `${user}@${defaultDomain}`;
    if (user.length > 254 || !MAILBOX.test(user)) {
      skipped.push(`claim ${path} is not a mailbox address`);
      continue;
    }
    return { ok: true, user, claim: path };
  }
  return { ok: false, reason: skipped.length ? skipped.join('; ') : `no claim ${attribute} in the token's identity` };
}

/** RFC 7628 §3.2 leaves the authzid policy to us: it must name the token's own user. */
export function sameUser(saslUser: string | undefined, tokenUser: string): boolean {
  return saslUser === undefined || saslUser === '' || saslUser.trim().toLowerCase() === tokenUser;
}
