// Mode "auth": GET the userinfo URL with Authorization: Bearer, exactly what DMS's Dovecot
// oauth2 passdb does with OAUTH2_INTROSPECTION_URL. A 200 proves the token is good for
// userinfo only: no audience (IDP-NOTES §4), so the config refuses audience checks here.
import { IdpHttpError, type IdpHttpClient } from '../http.js';
import { peekJwt } from '../jwt-peek.js';
import { invalid, unavailable, type TokenResult, type TokenValidator } from '../token-result.js';
import { jsonObject } from './json.js';

export class UserinfoValidator implements TokenValidator {
  readonly mode = 'auth';

  /** `url` may be resolved late (OIDC discovery), hence a function. */
  constructor(private readonly url: () => Promise<string>, private readonly http: IdpHttpClient) {}

  async validate(token: string): Promise<TokenResult> {
    let res;
    try {
      res = await this.http.send(await this.url(), { method: 'GET', headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
    } catch (err) {
      if (err instanceof IdpHttpError) return unavailable(`userinfo: ${err.message}`, err.code === 'ERR_IDP_DISCOVERY');
      throw err;
    }
    // RFC 6750 §3.1: 401 invalid_token; Authentik answers 403 for a token without openid.
    if (res.status === 401 || res.status === 403) return invalid(`userinfo answered ${res.status}`);
    if (res.status !== 200) return unavailable(`userinfo answered ${res.status}`);
    const claims = jsonObject(res);
    if (!claims) return unavailable('userinfo answered 200 with a body that is not a JSON object');
    // Userinfo says nothing of the token's lifetime; a JWT access token (Keycloak, Authentik)
    // carries it. Unverified, it only caps how long the decision is cached (never past exp).
    const exp = peekJwt(token)?.exp;
    return exp === undefined ? { status: 'valid', claims } : { status: 'valid', claims, expiresAt: exp };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
