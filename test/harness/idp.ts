/// <reference path="./oidc-provider.d.ts" />
// A real OpenID provider (oidc-provider, in-process) for tests and the demo.
// Tokens are minted headless through a test-only grant type at the real token endpoint, so
// userinfo (/me), introspection and the JWKS are oidc-provider's own, unmodified endpoints.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import type { Provider, ProviderContext } from 'oidc-provider';
import { interactionHandler } from './idp-login.js';

/** `password`: for the interactive sign-in (idp-login.ts); default IDP_TEST_PASSWORD. */
export interface IdpAccount { email: string; emailVerified?: boolean; groups?: string[]; roles?: string[]; name?: string; password?: string }
export interface MintOptions {
  scope?: string;
  expiresInSeconds?: number;
  /** mintToken: an opaque token bound to this resource (introspection reports it as `aud`). */
  audience?: string;
}
export interface Idp {
  issuer: string;
  discoveryUrl: string;
  userinfoUrl: string;
  introspectionUrl: string;
  jwksUrl: string;
  introspectionClient: { clientId: string; clientSecret: string };
  addAccount(account: IdpAccount): void;
  mintToken(email: string, opts?: MintOptions): Promise<string>;
  mintJwt(email: string, opts?: MintOptions & { audience?: string; alg?: 'RS256' | 'ES256' }): Promise<string>;
  revoke(token: string): Promise<void>;
  /** Registers a client (e.g. the portal's, redirect URI and all) as a dynamic client would be. */
  addClient(metadata: Record<string, unknown>): Promise<void>;
  /**
   * Key rotation for tests: publishes an extra public JWK at the JWKS endpoint, next to the
   * provider's own keys (which keep signing what mintJwt returns).
   */
  addJwk(jwk: Record<string, unknown>): void;
  /**
   * Key rotation as an operator does it: the provider restarts (same issuer and port) with a
   * fresh RS256 and ES256 key first, which sign every token from now on, and the old keys
   * after them, still published so tokens already out stay valid. Returns the new kids.
   */
  rotateKeys(): Promise<string[]>;
  counts: { userinfo: number; introspection: number; jwks: number };
  stop(): Promise<void>;
}

export const DEFAULT_AUDIENCE = 'urn:oauth2-mail-proxy';
const DEFAULT_SCOPE = 'openid email profile';
const MINT_GRANT = 'urn:oauth2-mail-proxy:test:mint';
const DEFAULT_ACCOUNTS: IdpAccount[] = [
  { email: 'alice@example.test', name: 'Alice', groups: ['mail-users'], roles: ['mail'] },
  { email: 'bob@example.test', name: 'Bob', groups: ['mail-users'], roles: ['mail'] },
];

/** The stable `sub` of an account: derived from the (lower-cased) email, same across runs. */
export function accountIdFor(email: string): string {
  return `u-${createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 20)}`;
}

// Fresh signing keys per IdP: RS256 (also signs ID tokens) and ES256 for JWT access tokens.
function signingKeys() {
  const jwk = (type: 'rsa' | 'ec', alg: string) => ({
    ...(type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' })
    ).privateKey.export({ format: 'jwk' }),
    kid: `${alg.toLowerCase()}-${randomBytes(6).toString('hex')}`,
    alg,
    use: 'sig',
  });
  return { keys: [jwk('rsa', 'RS256'), jwk('ec', 'ES256')] };
}

// oidc-provider prints NOTICE/WARNING lines via console at import and construction (Node 20
// is "unsupported", the in-memory adapter is "development-only"). Both are expected here, so
// only those lines are dropped, and only while importing/constructing.
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const { warn, info } = console;
  const filter = (orig: (...a: unknown[]) => void) => (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider ')) return;
    orig.apply(console, args);
  };
  console.warn = filter(warn);
  console.info = filter(info);
  try {
    return await fn();
  } finally {
    console.warn = warn;
    console.info = info;
  }
}

export async function startIdp(opts: { accounts?: IdpAccount[]; host?: string } = {}): Promise<Idp> {
  const host = opts.host ?? '127.0.0.1';
  const accounts = new Map<string, IdpAccount & { sub: string }>(); // by lower-cased email
  const bySub = new Map<string, IdpAccount & { sub: string }>();
  const addAccount = (a: IdpAccount) => {
    const entry = { emailVerified: true, ...a, sub: accountIdFor(a.email) };
    accounts.set(a.email.toLowerCase(), entry);
    bySub.set(entry.sub, entry);
  };
  (opts.accounts ?? DEFAULT_ACCOUNTS).forEach(addAccount);

  const counts = { userinfo: 0, introspection: 0, jwks: 0 };
  const paths = new Map<string, keyof typeof counts>();
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  let keys = signingKeys();
  const extraJwks: Array<Record<string, unknown>> = [];
  const server = createServer((req, res) => {
    const which = paths.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (which) counts[which] += 1;
    if (which === 'jwks' && extraJwks.length) {
      const own = keys.keys.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub }) => pub);
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: [...own, ...extraJwks] }));
    } else if (handler && req.url?.startsWith('/interaction/')) {
      interactions(req, res).then((done) => { if (!done) handler!(req, res); }, (err: Error) => {
        if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' }).end(`interaction failed: ${err.message}\n`);
      });
    } else if (handler) handler(req, res);
    else res.writeHead(503).end();
  });
  // The issuer needs the port, so listen before constructing the provider.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const introspectionClient = { clientId: 'oauth2-mail-proxy', clientSecret: randomBytes(24).toString('hex') };
  const mintClient = { clientId: 'test-mail-client', clientSecret: randomBytes(24).toString('hex') };

  const resourceServerInfo = (audience: string, alg = 'RS256', format: 'jwt' | 'opaque' = 'jwt') => ({
    audience,
    scope: 'openid email profile groups',
    accessTokenFormat: format,
    ...(format === 'jwt' ? { jwt: { sign: { alg } } } : {}),
  });

  const claimsOf = (a: IdpAccount & { sub: string }) => ({
    email: a.email,
    email_verified: a.emailVerified !== false,
    groups: a.groups ?? [],
    realm_access: { roles: a.roles ?? [] },
  });

  // Tokens, grants and sessions live in one store for this IdP, so they outlive a rebuilt
  // provider (rotateKeys) as they would a restart with a real database.
  const { createMemoryAdapter } = await import('oidc-provider/lib/adapters/memory_adapter.js');
  const adapter = createMemoryAdapter(0);
  const build = (jwks: typeof keys): Promise<Provider> => quietly(async () => {
    const { default: Provider, errors } = await import('oidc-provider');
    const p: Provider = new Provider(issuer, {
      jwks,
      adapter,
      // Same clock in-process: without this, expired tokens stay valid for 15 s more.
      clockTolerance: 0,
      cookies: { keys: [randomBytes(32).toString('hex')] },
      clients: [
        {
          client_id: introspectionClient.clientId,
          client_secret: introspectionClient.clientSecret,
          grant_types: [],
          response_types: [],
          redirect_uris: [],
          token_endpoint_auth_method: 'client_secret_basic', // client_secret_post is accepted too
        },
        {
          client_id: mintClient.clientId,
          client_secret: mintClient.clientSecret,
          grant_types: [MINT_GRANT],
          response_types: [],
          redirect_uris: [],
        },
      ],
      scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
      claims: {
        openid: ['sub'],
        email: ['email', 'email_verified'],
        profile: ['name', 'groups'],
        groups: ['groups'],
      },
      findAccount: (_ctx: ProviderContext, sub: string) => {
        const a = bySub.get(sub);
        if (!a) return undefined;
        return {
          accountId: sub,
          claims: () => ({ sub, email: a.email, email_verified: a.emailVerified !== false, name: a.name ?? a.email, groups: a.groups ?? [] }),
        };
      },
      // Keycloak-like claims for introspection responses and JWT access tokens.
      extraTokenClaims: (_ctx: ProviderContext, token: { accountId?: string }) => {
        const a = token.accountId ? bySub.get(token.accountId) : undefined;
        return a ? claimsOf(a) : undefined;
      },
      features: {
        devInteractions: { enabled: false },
        revocation: { enabled: true, allowedPolicy: async () => true },
        introspection: {
          enabled: true,
          // The proxy's client may introspect any token; others only their own.
          allowedPolicy: async (_ctx: ProviderContext, client: { clientId: string }, token: { clientId: string }) =>
            client.clientId === introspectionClient.clientId || client.clientId === token.clientId,
        },
        resourceIndicators: {
          enabled: true,
          getResourceServerInfo: async (_ctx: ProviderContext, resource: string) => resourceServerInfo(resource),
        },
      },
      ttl: {
        AccessToken: (_ctx: ProviderContext, t: { resourceServer?: { accessTokenTTL?: number } }) => t.resourceServer?.accessTokenTTL ?? 3600,
        Grant: 24 * 3600,
        IdToken: 3600,
        Interaction: 3600,
        Session: 24 * 3600,
      },
    });

    // Test-only grant: the authenticated mint client asks for a token for a known account.
    p.registerGrantType(MINT_GRANT, async (ctx: ProviderContext) => {
      const { client, params } = ctx.oidc;
      const account = accounts.get(String(params.email ?? '').toLowerCase());
      if (!account) throw new errors.InvalidGrant('unknown account');
      const scope: string = params.scope || DEFAULT_SCOPE;
      const expiresIn = params.expires_in ? Number(params.expires_in) : undefined;
      if (expiresIn !== undefined && !(Number.isInteger(expiresIn) && expiresIn > 0)) {
        throw new errors.InvalidRequest('expires_in must be a positive integer');
      }

      // Introspection and userinfo both require the token's grant to exist and match.
      const grant = new p.Grant({ accountId: account.sub, clientId: client.clientId });
      const resource: string | undefined = params.resource;
      if (resource) grant.addResourceScope(resource, scope);
      else grant.addOIDCScope(scope);
      const grantId: string = await grant.save();

      const at = new p.AccessToken({ accountId: account.sub, client, grantId, scope, gty: MINT_GRANT, expiresIn });
      // A resource server makes it an RFC 9068 JWT with that audience (formats.jwt).
      if (resource) at.resourceServer = new p.ResourceServer(resource, resourceServerInfo(resource, params.alg || 'RS256', params.format === 'opaque' ? 'opaque' : 'jwt'));
      ctx.body = { access_token: await at.save(), token_type: 'Bearer', expires_in: at.expiration, scope };
    }, ['email', 'scope', 'expires_in', 'resource', 'alg', 'format']);
    return p;
  });
  let provider = await build(keys);
  handler = provider.callback();
  const interactions = interactionHandler(() => provider, (email) => accounts.get(email.trim().toLowerCase()));

  const pathOf = (name: string) => new URL(provider.urlFor(name)).pathname;
  paths.set(pathOf('userinfo'), 'userinfo');
  paths.set(pathOf('introspection'), 'introspection');
  paths.set(pathOf('jwks'), 'jwks');

  const mint = async (fields: Record<string, string | undefined>): Promise<string> => {
    const body = new URLSearchParams({ grant_type: MINT_GRANT });
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) body.set(k, v);
    const basic = Buffer.from(`${mintClient.clientId}:${mintClient.clientSecret}`).toString('base64');
    const res = await request(provider.urlFor('token'), {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const json = (await res.body.json()) as { access_token?: string; error?: string; error_description?: string };
    if (res.statusCode !== 200 || !json.access_token) {
      throw new Error(`test IdP refused to mint a token: ${json.error ?? res.statusCode} ${json.error_description ?? ''}`.trim());
    }
    return json.access_token;
  };

  let stopped: Promise<void> | undefined;
  return {
    issuer,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    userinfoUrl: provider.urlFor('userinfo'),
    introspectionUrl: provider.urlFor('introspection'),
    jwksUrl: provider.urlFor('jwks'),
    introspectionClient,
    addAccount,
    counts,
    mintToken: (email, o = {}) =>
      mint({ email, scope: o.scope, expires_in: o.expiresInSeconds?.toString(), ...(o.audience ? { resource: o.audience, format: 'opaque' } : {}) }),
    mintJwt: (email, o = {}) =>
      mint({ email, scope: o.scope, expires_in: o.expiresInSeconds?.toString(), resource: o.audience ?? DEFAULT_AUDIENCE, alg: o.alg }),
    async addClient(metadata) {
      await (adapter('Client') as { upsert(id: string, payload: unknown): Promise<void> }).upsert(String(metadata.client_id), metadata);
    },
    addJwk(jwk) {
      extraJwks.push(jwk);
    },
    async rotateKeys() {
      const fresh = signingKeys();
      keys = { keys: [...fresh.keys, ...keys.keys] };
      provider = await build(keys);
      handler = provider.callback();
      return fresh.keys.map((k) => k.kid);
    },
    // Opaque tokens only: deleting the token and its grant makes /me and introspection fail.
    // A JWT access token is never stored, so it stays valid until it expires.
    async revoke(token) {
      const at = await provider.AccessToken.find(token, { ignoreExpiration: true });
      if (!at) return;
      await at.destroy();
      const grant = at.grantId ? await provider.Grant.find(at.grantId, { ignoreExpiration: true }) : undefined;
      await grant?.destroy();
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // keep-alive sockets (undici pools) would hold close() open
      });
      return stopped;
    },
  };
}
