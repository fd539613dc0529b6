// OpenID Connect Discovery 1.0: the issuer's metadata (jwks_uri, userinfo_endpoint,
// introspection_endpoint) fetched once, lazily, through the bounded IdP client. The document's
// `issuer` must equal the configured one exactly (Discovery §4.3), or it is not used.
import { IdpHttpError, type IdpHttpClient } from './http.js';
import { jsonObject } from './validators/json.js';

export type MetadataEndpoint = 'jwks_uri' | 'userinfo_endpoint' | 'introspection_endpoint';

export class Discovery {
  private metadata: Record<string, unknown> | undefined;
  private inflight: Promise<Record<string, unknown>> | undefined;

  constructor(readonly issuer: string, private readonly http: IdpHttpClient) {}

  /** `<issuer>/.well-known/openid-configuration` (Discovery §4; issuer path kept, trailing slash not doubled). */
  get url(): string {
    return `${this.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  }

  async endpoint(name: MetadataEndpoint): Promise<string> {
    const m = await this.load();
    const v = m[name];
    if (typeof v !== 'string' || !/^https?:\/\//.test(v)) {
      throw new IdpHttpError('ERR_IDP_DISCOVERY', `discovery document of ${this.issuer} has no ${name}: set it explicitly`);
    }
    return v;
  }

  /** One fetch at a time; a failure is not remembered, so the next login tries again. */
  private load(): Promise<Record<string, unknown>> {
    if (this.metadata) return Promise.resolve(this.metadata);
    this.inflight ??= this.fetch().finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  private async fetch(): Promise<Record<string, unknown>> {
    let res;
    try {
      res = await this.http.send(this.url, { method: 'GET', headers: { accept: 'application/json' } });
    } catch (err) {
      if (err instanceof IdpHttpError) throw new IdpHttpError(err.code, `discovery: ${err.message}`, { cause: err });
      throw err;
    }
    if (res.status !== 200) throw new IdpHttpError('ERR_IDP_DISCOVERY', `discovery ${this.url} answered ${res.status}`);
    const doc = jsonObject(res);
    if (!doc) throw new IdpHttpError('ERR_IDP_DISCOVERY', `discovery ${this.url} is not a JSON object`);
    if (doc.issuer !== this.issuer) {
      throw new IdpHttpError('ERR_IDP_DISCOVERY', `discovery issuer ${String(doc.issuer)} differs from the configured ${this.issuer} (OIDC Discovery §4.3: must match exactly)`);
    }
    this.metadata = doc;
    return doc;
  }
}
