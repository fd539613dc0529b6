// Mode "auth": GET the configured URL with Authorization: Bearer, exactly what DMS's
// Dovecot oauth2 passdb does with OAUTH2_INTROSPECTION_URL (an OIDC userinfo endpoint).
import type { IdpHttpClient } from './http.js';
import { IdpHttpError } from './http.js';
import type { TokenResult, TokenValidator } from './token-result.js';

export class UserinfoValidator implements TokenValidator {
  readonly mode = 'auth';

  constructor(private readonly url: string, private readonly http: IdpHttpClient) {}

  async validate(token: string): Promise<TokenResult> {
    let res;
    try {
      res = await this.http.send(this.url, { method: 'GET', headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
    } catch (err) {
      if (err instanceof IdpHttpError) return { status: 'unavailable', reason: err.message };
      throw err;
    }
    // RFC 6750 §3.1: 401 invalid_token; Authentik answers 403 for a token without openid.
    if (res.status === 401 || res.status === 403) return { status: 'invalid', reason: `userinfo answered ${res.status}` };
    if (res.status !== 200) return { status: 'unavailable', reason: `userinfo answered ${res.status}` };
    let claims: unknown;
    try {
      claims = JSON.parse(res.body.toString('utf8'));
    } catch {
      return { status: 'unavailable', reason: 'userinfo answered 200 with a body that is not JSON' };
    }
    if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) {
      return { status: 'unavailable', reason: 'userinfo answered 200 with JSON that is not an object' };
    }
    return { status: 'valid', claims: claims as Record<string, unknown> };
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
