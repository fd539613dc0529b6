// The portal keys (issue 19), validated together: the self-service page needs its public URL,
// an OIDC client, an issuer to sign in with, the app-password store it manages and the
// certificate it serves HTTPS with. Off (null) when LISTEN_PORTAL is empty.
import { secretOrFile } from './values.js';
import { ISSUERS_KEY, type RawIssuer } from './issuers.js';
import type { KeyValues } from './keys.js';
import type { PortalConfig } from './types.js';

type PortalKeys = Pick<KeyValues, 'LISTEN_PORTAL' | 'PORTAL_URL' | 'PORTAL_CLIENT_ID' | 'PORTAL_CLIENT_SECRET' | 'PORTAL_CLIENT_SECRET_FILE'
  | 'PORTAL_SCOPES' | 'PORTAL_SESSION_SECONDS' | 'OAUTH2_ISSUER' | 'APP_PASSWORDS_FILE' | 'SSL_CERT_PATH' | 'SSL_KEY_PATH'>;

/** The issuer users sign in with: OAUTH2_ISSUER, or the first item of the YAML issuers: list (its own, else the flat key). */
function portalIssuer(v: PortalKeys, file: Record<string, string>): string {
  const items = file[ISSUERS_KEY] === undefined ? [] : (JSON.parse(file[ISSUERS_KEY]) as RawIssuer[]);
  return (items[0]?.OAUTH2_ISSUER ?? v.OAUTH2_ISSUER).trim();
}

export function loadPortal(v: PortalKeys, file: Record<string, string>, problems: string[]): PortalConfig | null {
  // Every portal key is read (and a bad value reported) even with the portal off.
  const { LISTEN_PORTAL: listen, PORTAL_URL: url, PORTAL_CLIENT_ID: id, PORTAL_CLIENT_SECRET: secret, PORTAL_CLIENT_SECRET_FILE: secretFile, PORTAL_SCOPES: scopeList, PORTAL_SESSION_SECONDS: seconds } = v;
  if (!listen) return null;
  const need = (ok: unknown, text: string): void => { if (!ok) problems.push(text); };
  // A PORTAL_URL its parser refused is listed already and reaches here as undefined.
  const base = url?.trim() ?? '';
  need(base || url === undefined, 'PORTAL_URL: required with LISTEN_PORTAL (the public https:// URL of the portal)');
  let origin = '';
  if (base) {
    const u = new URL(base);
    // Cookies are Secure and the page is served over TLS only: the browser must see https.
    if (u.protocol !== 'https:') problems.push('PORTAL_URL: must be an https:// URL (the portal serves HTTPS only)');
    if (u.pathname !== '/' || u.search || u.hash) problems.push('PORTAL_URL: no path, query or fragment (the redirect URI is PORTAL_URL/callback)');
    origin = u.origin;
  }
  const clientId = id.trim();
  need(clientId, 'PORTAL_CLIENT_ID: required with LISTEN_PORTAL (the portal\'s OIDC client at the IdP)');
  const clientSecret = secretOrFile(secret, secretFile, (e) => problems.push(`PORTAL_CLIENT_SECRET_FILE: ${e}`));
  const issuer = portalIssuer(v, file);
  need(issuer, 'OAUTH2_ISSUER: required with LISTEN_PORTAL (the issuer users sign in with; or an issuer in the YAML issuers: list)');
  need(v.APP_PASSWORDS_FILE, 'APP_PASSWORDS_FILE: required with LISTEN_PORTAL (the store the portal manages)');
  need(v.SSL_CERT_PATH && v.SSL_KEY_PATH, 'LISTEN_PORTAL needs SSL_CERT_PATH and SSL_KEY_PATH (the portal serves HTTPS only)');
  const scopes = scopeList.split(/\s+/).filter(Boolean);
  if (!scopes.includes('openid')) problems.push('PORTAL_SCOPES: must include openid');
  return { listen, origin, redirectUri: `${origin}/callback`, clientId, clientSecret, issuer, scopes, sessionTtlMs: seconds * 1000 };
}
