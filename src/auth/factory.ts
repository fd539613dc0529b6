// Builds token validation from the config: one IdP HTTP client for every remote call, per
// issuer its validators (discovery, JWKS, userinfo/tokeninfo/introspection), the router and
// the cache. Called once by src/server.ts (and by check-token).
import { hash } from 'node:crypto';
import type { AppPasswordStore } from './app-passwords.js';
import type { Config, IssuerConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { Authenticator } from './authenticator.js';
import type { DisabledUsers } from './disabled-users.js';
import { Discovery, type MetadataEndpoint } from './discovery.js';
import { IdpHttpClient } from './http.js';
import { Issuer, IssuerRouter } from './issuers.js';
import { JwksStore, type JwksLimits } from './jwks.js';
import { TokenChecker, type SharedTokenDecisions } from './token-check.js';
import type { TokenValidator } from './token-result.js';
import { IntrospectionValidator } from './validators/introspection.js';
import { JwtValidator } from './validators/jwt.js';
import { TokeninfoValidator } from './validators/tokeninfo.js';
import { UserinfoValidator } from './validators/userinfo.js';

export interface TokenValidation {
  readonly checker: TokenChecker;
  close(): Promise<void>;
}

/** The one IdP HTTP client: token validation and the readiness probe share its limits. */
export function createIdpHttpClient(oauth2: Config['oauth2']): IdpHttpClient {
  return new IdpHttpClient({ timeoutMs: oauth2.timeoutMs, maxResponseBytes: oauth2.maxResponseBytes });
}

/** `http` is closed with the validation. `shared`: the replicas' positive decisions, used only when this replica caches them too. */
export function createTokenValidation(oauth2: Config['oauth2'], log: Logger | undefined, http = createIdpHttpClient(oauth2), shared?: SharedTokenDecisions): TokenValidation {
  const jwks: JwksLimits = { cooldownMs: oauth2.jwksCooldownSeconds * 1000, maxWaitMs: oauth2.timeoutMs };
  const issuers = oauth2.issuers.map((c) => buildIssuer(c, http, jwks));
  const caching = oauth2.cache.maxEntries > 0 && oauth2.cache.ttlSeconds > 0;
  const checker = new TokenChecker(new IssuerRouter(issuers), oauth2.cache, log, Date.now, caching && shared ? underSettings(shared, oauth2.issuers) : undefined);
  return { checker, close: () => http.close() };
}

/**
 * Shared decisions are filed under a digest of the issuer settings as well as the token's:
 * unlike the in-memory cache they outlive a restart, and a replica whose settings differ (the
 * mailbox claim, the policy, the issuers changed by the operator) must decide for itself,
 * never take who a token was under the old ones. Replicas with the same settings share.
 */
function underSettings(shared: SharedTokenDecisions, issuers: readonly IssuerConfig[]): SharedTokenDecisions {
  // The client secret left out: no digest of it in the store's key names.
  const settings = hash('sha256', JSON.stringify(issuers, (k, v: unknown) => (k === 'secret' ? undefined : v)), 'base64url').slice(0, 22);
  return {
    get: (key) => shared.get(`${settings}.${key}`),
    put: (key, decision, ttlMs) => shared.put(`${settings}.${key}`, decision, ttlMs),
  };
}

export interface AuthenticatorParts {
  readonly disabled?: DisabledUsers;
  /** The one IdP HTTP client (readiness probes share it). */
  readonly http?: IdpHttpClient;
  readonly appPasswords?: AppPasswordStore;
  /** Positive token decisions shared by the replicas (SHARED_STATE_URL). */
  readonly sharedTokens?: SharedTokenDecisions;
}

export function createAuthenticator(config: Config, log: Logger, parts: AuthenticatorParts = {}): Authenticator {
  const v = createTokenValidation(config.oauth2, log, parts.http, parts.sharedTokens);
  return new Authenticator(v.checker, v.close, { disabled: parts.disabled, allowClientMasterLogin: config.allowClientMasterLogin, appPasswords: parts.appPasswords });
}

function buildIssuer(c: IssuerConfig, http: IdpHttpClient, jwksLimits: JwksLimits): Issuer {
  const discovery = c.issuer ? new Discovery(c.issuer, http) : undefined;
  // An explicit URL wins; otherwise the endpoint comes from discovery (config guarantees one of them).
  const endpoint = (explicit: string, name: MetadataEndpoint) => (): Promise<string> =>
    explicit ? Promise.resolve(explicit) : discovery!.endpoint(name);

  let local: TokenValidator | undefined;
  if (c.mode === 'local' || c.mode === 'auto') {
    const jwks = new JwksStore(endpoint(c.jwksUrl, 'jwks_uri'), http, jwksLimits);
    local = new JwtValidator(jwks, c);
  }
  let remote: TokenValidator | undefined;
  const introspect = (): TokenValidator => new IntrospectionValidator(endpoint(c.introspectionUrl, 'introspection_endpoint'), c.client!, http);
  const userinfo = (): TokenValidator => new UserinfoValidator(endpoint(c.introspectionUrl, 'userinfo_endpoint'), http);
  switch (c.mode) {
    case 'auth': remote = userinfo(); break;
    case 'get': remote = new TokeninfoValidator(c.introspectionUrl, http); break;
    case 'post': remote = introspect(); break;
    // auto: opaque tokens are introspected; config requires a client (userinfo proves no audience).
    case 'auto': remote = c.client ? introspect() : undefined; break;
    case 'local': break;
  }
  return new Issuer(c, local, remote);
}
