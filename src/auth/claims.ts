// Which mailbox a token belongs to. The identity comes from the IdP's claims only; the
// SASL user name a client sends is merely checked against it.
import { get } from 'wild-wild-path';
import type { Claims } from './token-result.js';

// A mailbox address as DMS accounts are: local@domain, no spaces or control characters.
const MAILBOX = /^[^\s@\x00-\x1f\x7f"*]+@[^\s@\x00-\x1f\x7f"*]+$/;

export type MappedUser = { ok: true; user: string; claim: string } | { ok: false; reason: string };

/** `attribute` is a wild-wild-path query; space-separated alternatives are tried in order. */
export function mapUsername(claims: Claims, attribute: string): MappedUser {
  for (const path of attribute.split(/\s+/).filter(Boolean)) {
    let value: unknown;
    try {
      value = get(claims, path);
    } catch {
      return { ok: false, reason: `invalid claim path ${path}` };
    }
    if (typeof value !== 'string' || value === '') continue;
    const user = value.trim().toLowerCase();
    if (user.length > 254 || !MAILBOX.test(user)) return { ok: false, reason: `claim ${path} is not a mailbox address` };
    return { ok: true, user, claim: path };
  }
  return { ok: false, reason: `no claim ${attribute} in the token's identity` };
}

/** RFC 7628 §3.2 leaves the authzid policy to us: it must name the token's own user. */
export function sameUser(saslUser: string | undefined, tokenUser: string): boolean {
  return saslUser === undefined || saslUser === '' || saslUser.trim().toLowerCase() === tokenUser;
}
