// One configured issuer: how its tokens are validated (local JWT and/or a remote endpoint),
// then mapped to a mailbox and authorized; and the router that picks the issuer for a token.
import type { IssuerConfig } from '../config/types.js';
import { mapUsername } from './claims.js';
import { peekJwt } from './jwt-peek.js';
import { checkPolicy } from './policy.js';
import type { Claims, TokenValidator } from './token-result.js';

export type ValidationMode = 'auth' | 'get' | 'post' | 'local';

interface Where { readonly issuer?: string; readonly mode?: ValidationMode }

export type IssuerDecision =
  | (Where & {
      readonly status: 'valid';
      readonly issuer: string;
      readonly mode: ValidationMode;
      readonly user: string;
      readonly claim: string;
      /** The claims that decided (subject, issuer, audience, expiry, scope, groups...). */
      readonly evidence: Record<string, unknown>;
      readonly expiresAt?: number;
    })
  | (Where & { readonly status: 'invalid'; readonly reason: string })
  | (Where & { readonly status: 'unavailable'; readonly reason: string; readonly misconfigured?: boolean });

export class Issuer {
  constructor(
    readonly config: IssuerConfig,
    /** Verifies JWTs locally (modes local, auto). */
    readonly local: TokenValidator | undefined,
    /** Asks the IdP (modes auth, get, post; auto for anything not a JWT of this issuer). */
    readonly remote: TokenValidator | undefined,
  ) {}

  get name(): string {
    return this.config.name;
  }

  async check(token: string, via: 'local' | 'remote'): Promise<IssuerDecision> {
    const validator = via === 'local' ? this.local! : this.remote!;
    const where = { issuer: this.name, mode: validator.mode as ValidationMode };
    const r = await validator.validate(token);
    if (r.status !== 'valid') return { ...where, ...r };
    const c = this.config;
    // RFC 7662 §2.2 / tokeninfo: the endpoint says a token is live, not that it is meant for
    // us. Where an audience is configured (always in local and auto), every path must prove it
    // (issue 16): jose checked a JWT's aud already, and an introspected or tokeninfo answer
    // must name it too. An answer without any audience (many IdPs report none for opaque
    // tokens, userinfo never does) is refused, not waved through.
    if (c.audiences.length && !audienceMatches(r.claims, c.audiences)) {
      return { ...where, status: 'invalid', reason: `audience ${describeAudience(r.claims)} not accepted (expected ${c.audiences.join(' or ')}${where.mode === 'auth' ? '; userinfo proves no audience' : ''})` };
    }
    const mapped = mapUsername(r.claims, c.usernameAttribute, c.defaultDomain);
    if (!mapped.ok) return { ...where, status: 'invalid', reason: mapped.reason };
    const policy = checkPolicy(r.claims, mapped.user, c);
    if (!policy.ok) return { ...where, status: 'invalid', reason: policy.reason };
    const evidence: Record<string, unknown> = { [mapped.claim]: mapped.user };
    for (const k of ['sub', 'iss', 'aud', 'azp', 'client_id', 'exp']) if (r.claims[k] !== undefined) evidence[k] = r.claims[k];
    Object.assign(evidence, policy.evidence);
    const expiresAt = r.expiresAt;
    return { ...where, status: 'valid', user: mapped.user, claim: mapped.claim, evidence, ...(expiresAt === undefined ? {} : { expiresAt }) };
  }
}

export function audienceMatches(claims: Claims, accepted: readonly string[]): boolean {
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  return [...aud, claims.azp].some((a) => typeof a === 'string' && accepted.includes(a));
}

function describeAudience(claims: Claims): string {
  const aud = claims.aud ?? claims.azp;
  return aud === undefined ? '(none)' : JSON.stringify(aud).slice(0, 120);
}

/**
 * Routing: a JWT whose (unverified) `iss` is a configured issuer goes to that issuer and
 * nowhere else: its local validator when it has one (modes local, auto), else its endpoint.
 * Any other token (opaque, or a JWT of no configured issuer) goes to the one issuer whose
 * OAUTH2_OPAQUE_TOKENS takes it (a matching prefix first, then the catch-all `all`), or is
 * refused: a bearer token of one IdP is never shown to another (issue 16).
 */
export class IssuerRouter {
  constructor(private readonly issuers: readonly Issuer[]) {}

  async check(token: string): Promise<IssuerDecision> {
    const peek = peekJwt(token);
    const iss = peek?.iss;
    if (iss !== undefined) {
      const own = this.issuers.find((i) => i.config.issuer === iss);
      if (own?.local) return own.check(token, 'local');
      if (own?.remote) return own.check(token, 'remote');
    }
    const target = this.opaqueTarget(token);
    if (target) return target.check(token, 'remote');
    const what = iss !== undefined ? `JWT issuer ${iss.slice(0, 200)} is not configured` : peek ? 'a JWT without a readable iss' : 'not a JWT';
    return { status: 'invalid', reason: `${what}, and no issuer is configured to receive such tokens (OAUTH2_OPAQUE_TOKENS)` };
  }

  private opaqueTarget(token: string): Issuer | undefined {
    const withRemote = this.issuers.filter((i) => i.remote);
    const byPrefix = withRemote.find((i) => {
      const route = i.config.opaqueTokens;
      return typeof route === 'object' && route.prefixes.some((p) => token.startsWith(p));
    });
    return byPrefix ?? withRemote.find((i) => i.config.opaqueTokens === 'all');
  }
}
