// Shared by the token validation tests: a config for one mode against the test IdP, a log
// sink, a Google-style tokeninfo endpoint backed by the IdP's introspection, and self-signed
// JWTs for the attack cases.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { loadConfig } from '../../src/config/load.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import { createTokenValidation, type TokenValidation } from '../../src/auth/factory.js';
import { DEFAULT_AUDIENCE, type Idp } from '../harness/idp.js';

export const BASE_ENV: Record<string, string> = {
  LISTEN_IMAP: '127.0.0.1:0', LISTEN_IMAPS: '', LISTEN_SUBMISSION: '', LISTEN_SUBMISSIONS: '',
  ALLOW_PLAINTEXT_AUTH: '1', DMS_MASTER_USER: 'proxy', DMS_MASTER_PASSWORD: 'pw',
};

export function modeEnv(idp: Idp, mode: 'auth' | 'post' | 'local' | 'auto', extra: Record<string, string> = {}): Record<string, string> {
  const client = { OAUTH2_CLIENT_ID: idp.introspectionClient.clientId, OAUTH2_CLIENT_SECRET: idp.introspectionClient.clientSecret };
  const byMode: Record<string, Record<string, string>> = {
    auth: { OAUTH2_INTROSPECTION_URL: idp.userinfoUrl },
    post: { OAUTH2_INTROSPECTION_MODE: 'post', OAUTH2_INTROSPECTION_URL: idp.introspectionUrl, ...client },
    local: { OAUTH2_INTROSPECTION_MODE: 'local', OAUTH2_ISSUER: idp.issuer, OAUTH2_AUDIENCE: DEFAULT_AUDIENCE },
    auto: { OAUTH2_INTROSPECTION_MODE: 'auto', OAUTH2_ISSUER: idp.issuer, OAUTH2_AUDIENCE: DEFAULT_AUDIENCE, ...client },
  };
  return { ...byMode[mode], ...extra };
}

export interface Captured { logger: Logger; lines: () => Array<Record<string, unknown>>; raw: () => string }

export function captureLog(): Captured {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _e, cb) { lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)); cb(); } });
  return { logger: createLogger('debug', sink), lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>), raw: () => lines.join('\n') };
}

export function validation(env: Record<string, string>, log?: Logger): TokenValidation {
  return createTokenValidation(loadConfig({ ...BASE_ENV, ...env }).oauth2, log);
}

/** Google-style tokeninfo (IDP-NOTES §2): exp/expires_in/email_verified as strings, 400 for a bad token. */
export async function startTokeninfo(idp: Idp): Promise<{ url: string; calls: () => number; stop: () => Promise<void> }> {
  let calls = 0;
  const { clientId, clientSecret } = idp.introspectionClient;
  const server = createServer((req, res) => {
    calls += 1;
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('access_token') ?? '';
    void request(idp.introspectionUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ token }).toString(),
    }).then(async (r) => {
      const j = (await r.body.json()) as Record<string, unknown>;
      if (!j.active) return void res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_token","error_description":"Invalid Value"}');
      const exp = Number(j.exp);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        azp: j.client_id, aud: j.client_id, sub: j.sub, scope: j.scope, email: j.email,
        email_verified: String(j.email_verified), exp: String(exp), expires_in: String(exp - Math.floor(Date.now() / 1000)),
      }));
    }, () => res.writeHead(502).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/tokeninfo`, calls: () => calls, stop: () => new Promise((r) => { server.close(() => r()); server.closeAllConnections(); }) };
}

/** A signing key the IdP does not (yet) publish; `jwk` is its public half for idp.addJwk. */
export async function foreignKey(alg: 'RS256' | 'ES256' = 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `rotated-${Math.random().toString(36).slice(2, 10)}`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'at+jwt', ...header }).sign(privateKey);
  return { kid, jwk, publicKey, sign };
}

export function atClaims(idp: Idp, email: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { iss: idp.issuer, aud: DEFAULT_AUDIENCE, sub: 'u-test', client_id: 'test-mail-client', email, scope: 'openid email', iat: now, exp: now + 600, jti: `j${now}`, ...over };
}
