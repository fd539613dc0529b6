// Mode "post": RFC 7662 token introspection. POST token=... with the proxy's own client
// credentials (RFC 7662 §2.1; client_secret_basic or client_secret_post, RFC 6749 §2.3.1).
// Only `active: true` means anything (§2.2). A 401 means *our* credentials are wrong: that is
// a misconfiguration (unavailable, logged as an error), never the user's bad token.
import { IdpHttpError, type IdpHttpClient } from '../http.js';
import { invalid, numericDate, unavailable, type TokenResult, type TokenValidator } from '../token-result.js';
import { jsonObject } from './json.js';

export interface IntrospectionClient { readonly id: string; readonly secret: string; readonly auth: 'basic' | 'post' }

export class IntrospectionValidator implements TokenValidator {
  readonly mode = 'post';

  constructor(
    private readonly url: () => Promise<string>,
    private readonly client: IntrospectionClient,
    private readonly http: IdpHttpClient,
    private readonly now: () => number = Date.now,
  ) {}

  async validate(token: string): Promise<TokenResult> {
    const form = new URLSearchParams({ token, token_type_hint: 'access_token' });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (this.client.auth === 'basic') {
      // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
      const basic = Buffer.from(`${formEncode(this.client.id)}:${formEncode(this.client.secret)}`).toString('base64');
      headers.authorization = `Basic ${basic}`;
    } else {
      form.set('client_id', this.client.id);
      form.set('client_secret', this.client.secret);
    }
    let res;
    try {
      res = await this.http.send(await this.url(), { method: 'POST', headers, body: form.toString() });
    } catch (err) {
      if (err instanceof IdpHttpError) return unavailable(`introspection: ${err.message}`, err.code === 'ERR_IDP_DISCOVERY');
      throw err;
    }
    const body = jsonObject(res);
    if (res.status === 401 || res.status === 403 || (res.status === 400 && body?.error === 'invalid_client')) {
      return unavailable(`introspection endpoint refused the proxy's client credentials (HTTP ${res.status}): check OAUTH2_CLIENT_ID / OAUTH2_CLIENT_SECRET / OAUTH2_CLIENT_AUTH`, true);
    }
    if (res.status !== 200) return unavailable(`introspection answered ${res.status}`);
    if (!body) return unavailable('introspection answered 200 with a body that is not a JSON object');
    if (body.active !== true) return invalid('introspection: token not active');
    // Keycloak (typ ID / Refresh / Offline) and Ory Hydra (token_use) introspect ID and refresh
    // tokens too: only an access token is a login, as in local mode (jwt.ts).
    if (typeof body.typ === 'string' && !/^bearer$/i.test(body.typ)) return invalid(`introspection: typ ${body.typ.slice(0, 32)} is not an access token`);
    if (typeof body.token_use === 'string' && body.token_use !== 'access_token') return invalid(`introspection: token_use ${body.token_use.slice(0, 32)} is not an access token`);
    const exp = numericDate(body.exp);
    // Defence in depth: an IdP that says active for an expired token is still not believed.
    if (exp !== undefined && exp * 1000 <= this.now()) return invalid('introspection: token expired');
    return exp === undefined ? { status: 'valid', claims: body } : { status: 'valid', claims: body, expiresAt: exp };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function formEncode(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, '+');
}
