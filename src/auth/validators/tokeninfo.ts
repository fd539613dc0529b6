// Mode "get": GET <url>?access_token=<token> (RFC 6750 §2.3 query parameter), the shape of
// Google's tokeninfo endpoint, whose access tokens are opaque (IDP-NOTES §3). Google sends
// exp, expires_in and email_verified as strings: they are normalised here. The URL holds the
// token, so it is never put in a reason or a log line.
import { IdpHttpError, type IdpHttpClient } from '../http.js';
import { invalid, numericDate, unavailable, type Claims, type TokenResult, type TokenValidator } from '../token-result.js';
import { jsonObject } from './json.js';

export class TokeninfoValidator implements TokenValidator {
  readonly mode = 'get';

  constructor(private readonly url: string, private readonly http: IdpHttpClient, private readonly now: () => number = Date.now) {}

  async validate(token: string): Promise<TokenResult> {
    const url = new URL(this.url);
    url.searchParams.set('access_token', token);
    let res;
    try {
      res = await this.http.send(url.toString(), { method: 'GET', headers: { accept: 'application/json' } });
    } catch (err) {
      if (err instanceof IdpHttpError) return unavailable(`tokeninfo: ${err.code}`);
      throw err;
    }
    // Google answers 400 {"error":"invalid_token"} (or error_description "Invalid Value").
    if (res.status === 400 || res.status === 401 || res.status === 403) return invalid(`tokeninfo answered ${res.status}`);
    if (res.status !== 200) return unavailable(`tokeninfo answered ${res.status}`);
    const body = jsonObject(res);
    if (!body) return unavailable('tokeninfo answered 200 with a body that is not a JSON object');
    if (body.error !== undefined) return invalid(`tokeninfo: ${String(body.error).slice(0, 64)}`);
    const claims: Claims = { ...body };
    const expiresIn = numericDate(body.expires_in);
    const exp = numericDate(body.exp) ?? (expiresIn !== undefined ? Math.floor(this.now() / 1000) + expiresIn : undefined);
    if (exp !== undefined) claims.exp = exp;
    if (body.email_verified === 'true' || body.email_verified === 'false') claims.email_verified = body.email_verified === 'true';
    if (exp !== undefined && exp * 1000 <= this.now()) return invalid('tokeninfo: token expired');
    return exp === undefined ? { status: 'valid', claims } : { status: 'valid', claims, expiresAt: exp };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
