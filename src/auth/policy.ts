// Authorization after authentication: a valid token of the right user may still not be
// allowed to use mail. Every check names what decided it (evidence, for check-token and the
// log); a denial is a rejected login (AUTHENTICATIONFAILED), its reason only in the log.
import { get } from 'wild-wild-path';
import type { Claims } from './token-result.js';

export interface Policy {
  readonly requiredScopes: readonly string[];
  readonly requiredGroups: readonly string[];
  readonly groupsClaim: string;
  readonly allowedDomains: readonly string[];
  readonly requireEmailVerified: boolean;
}

export type PolicyResult = { ok: true; evidence: Record<string, unknown> } | { ok: false; reason: string };

/** RFC 8693 §4.2 / RFC 7662 §2.2 `scope` (space-separated) and Entra's `scp` (string or list). */
export function tokenScopes(claims: Claims): Set<string> {
  const out = new Set<string>();
  for (const v of [claims.scope, claims.scp]) {
    const items = typeof v === 'string' ? v.split(/\s+/) : Array.isArray(v) ? v : [];
    for (const s of items) if (typeof s === 'string' && s) out.add(s);
  }
  return out;
}

/** Values at a claim path: a list of strings (Authentik `groups`, Keycloak `realm_access.roles`) or one string. */
export function claimValues(claims: Claims, path: string): string[] {
  let v: unknown;
  try {
    v = get(claims, path);
  } catch {
    return [];
  }
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function checkPolicy(claims: Claims, user: string, policy: Policy): PolicyResult {
  const evidence: Record<string, unknown> = {};
  if (policy.requiredScopes.length) {
    const have = tokenScopes(claims);
    const missing = policy.requiredScopes.filter((s) => !have.has(s));
    if (missing.length) return { ok: false, reason: `policy: token lacks scope ${missing.join(' ')}` };
    evidence.scope = [...policy.requiredScopes];
  }
  if (policy.requiredGroups.length) {
    const have = claimValues(claims, policy.groupsClaim);
    const matched = policy.requiredGroups.filter((g) => have.includes(g));
    if (!matched.length) return { ok: false, reason: `policy: ${user} has none of ${policy.requiredGroups.join(' ')} at ${policy.groupsClaim}` };
    evidence[policy.groupsClaim] = matched;
  }
  if (policy.allowedDomains.length) {
    const domain = user.slice(user.lastIndexOf('@') + 1);
    if (!policy.allowedDomains.includes(domain)) return { ok: false, reason: `policy: domain ${domain} is not allowed` };
    evidence.domain = domain;
  }
  if (policy.requireEmailVerified) {
    // Google tokeninfo sends "true" as a string; validators normalise it, this accepts both.
    const v = claims.email_verified;
    if (v !== true && v !== 'true') return { ok: false, reason: `policy: email_verified is ${v === undefined ? 'missing' : JSON.stringify(v)}, not true` };
    evidence.email_verified = true;
  }
  return { ok: true, evidence };
}
