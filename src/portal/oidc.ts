// The portal's side of OpenID Connect: the authorization code flow with PKCE (RFC 7636,
// S256), state and nonce, through openid-client (maintained, certified, the library the
// issue names). Discovery is fetched on the first sign-in and again after a failure, so an
// IdP that is down at start-up does not keep the proxy from starting; a failure is kept for
// PORTAL_DISCOVERY_RETRY_MS, so while the IdP is down sign-ins are not each a request to it.
import * as oidc from 'openid-client';
import type { PortalConfig } from '../config/types.js';
import type { PendingLogin } from './login-seal.js';
import { PORTAL_DISCOVERY_RETRY_MS } from '../limits.js';

export interface SignInStart {
  readonly url: string;
  readonly login: PendingLogin;
}

/** OAuth 2.0 for Native Apps (RFC 8252 §8.3) lets loopback go without TLS; nothing else may. */
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export class PortalOidc {
  private configuration: Promise<oidc.Configuration> | undefined;

  constructor(private readonly config: PortalConfig, private readonly timeoutMs: number, private readonly retryAfterMs = PORTAL_DISCOVERY_RETRY_MS) {}

  private discover(): Promise<oidc.Configuration> {
    const c = this.config;
    const server = new URL(c.issuer);
    const auth = c.clientSecret ? oidc.ClientSecretBasic(c.clientSecret) : oidc.None();
    const found = oidc.discovery(server, c.clientId, c.clientSecret ? undefined : { token_endpoint_auth_method: 'none' }, auth, {
      timeout: Math.max(1, Math.ceil(this.timeoutMs / 1000)),
      ...(server.protocol === 'http:' && LOOPBACK.has(server.hostname) ? { execute: [oidc.allowInsecureRequests] } : {}),
    }).then((conf) => {
      conf.timeout = Math.max(1, Math.ceil(this.timeoutMs / 1000));
      return conf;
    });
    this.configuration = found;
    found.catch(() => {
      setTimeout(() => { if (this.configuration === found) this.configuration = undefined; }, this.retryAfterMs).unref();
    });
    return found;
  }

  /** Where to send the browser, and what the callback must find again. */
  async begin(): Promise<SignInStart> {
    const conf = await (this.configuration ?? this.discover());
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(conf, {
      redirect_uri: this.config.redirectUri,
      scope: this.config.scopes.join(' '),
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, login: { state, nonce, verifier } };
  }

  /**
   * Redeems the code of the callback (`query`: its query string) and returns the access
   * token. openid-client checks state, the `iss` response parameter (RFC 9207), the PKCE
   * verifier at the token endpoint and the ID token (signature, iss, aud, exp, nonce).
   */
  async finish(query: URLSearchParams, login: PendingLogin): Promise<string> {
    const conf = await (this.configuration ?? this.discover());
    // The redirect URI as registered, never the Host header the request came with.
    const current = new URL(this.config.redirectUri);
    current.search = query.toString();
    const tokens = await oidc.authorizationCodeGrant(conf, current, {
      pkceCodeVerifier: login.verifier,
      expectedState: login.state,
      expectedNonce: login.nonce,
      idTokenExpected: true,
    });
    return tokens.access_token;
  }
}
