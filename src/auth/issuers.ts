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
    // us. In post and get the audience is checked here when configured (local: by jose). In
    // auto the audience is the JWTs'; an introspected opaque token is refused only when the
    // IdP names another audience (many IdPs report none for opaque tokens).
    const checkAud = c.mode === 'auto' ? r.claims.aud !== undefined : where.mode === 'post' || where.mode === 'get';
    if (checkAud && c.audiences.length && !audienceMatches(r.claims, c.audiences)) {
      return { ...where, status: 'invalid', reason: `audience ${describeAudience(r.claims)} not accepted (expected ${c.audiences.join(' or ')})` };
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
 * Routing (issue 4, mode auto): a JWT whose (unverified) `iss` is an issuer that verifies
 * locally goes there and nowhere else. A token naming an issuer that validates remotely goes
 * to that one. Anything else is offered to the remote issuers in configured order until one
 * accepts it; if none does and one was unreachable, the answer is unavailable (retry), not
 * "bad token".
 */
export class IssuerRouter {
  constructor(private readonly issuers: readonly Issuer[]) {}

  async check(token: string): Promise<IssuerDecision> {
    const iss = peekJwt(token)?.iss;
    if (iss !== undefined) {
      const own = this.issuers.find((i) => i.config.issuer === iss);
      if (own?.local) return own.check(token, 'local');
      if (own?.remote) return own.check(token, 'remote');
    }
    const remote = this.issuers.filter((i) => i.remote);
    if (!remote.length) {
      return { status: 'invalid', reason: iss === undefined ? 'not a JWT, and no issuer validates opaque tokens' : `JWT issuer ${iss.slice(0, 200)} is not configured` };
    }
    const failures: IssuerDecision[] = [];
    for (const i of remote) {
      const d = await i.check(token, 'remote');
      if (d.status === 'valid') return d;
      failures.push(d);
    }
    if (failures.length === 1) return failures[0]!;
    const down = failures.find((f) => f.status === 'unavailable');
    const reason = failures.map((f) => `${f.issuer}: ${f.status === 'valid' ? '' : f.reason}`).join('; ');
    return down ? { status: 'unavailable', reason, misconfigured: failures.some((f) => f.status === 'unavailable' && f.misconfigured) } : { status: 'invalid', reason };
  }
}
