// The portal's two cookies and the Cookie header, read without trusting it. Both names carry
// the `__Host-` prefix (RFC 6265bis §4.1.3.2): the browser keeps such a cookie only when it
// is Secure, has Path=/ and no Domain, so a sibling host cannot plant or shadow ours.

/** The signed-in session (an opaque random id; the session lives in server memory or the shared store). */
export const SESSION_COOKIE = '__Host-omp-session';
/** The sign-in begun in this browser, sealed (login-seal.ts): no login CSRF (RFC 9700 §4.7.1), no server memory. */
export const LOGIN_COOKIE = '__Host-omp-login';

/** Our cookie values are base64url (ids of 43 characters, a sealed sign-in of some 270); anything else is not ours. */
const VALUE = /^[A-Za-z0-9_-]+$/;
const MIN_LENGTH = 16;
/** The longest session id we accept; a sealed sign-in gets SEALED_MAX_LENGTH. */
export const ID_MAX_LENGTH = 128;
export const SEALED_MAX_LENGTH = 512;

/** The value of cookie `name`, or undefined when absent or malformed (never a throw). */
export function readCookie(header: string | undefined, name: string, maxLength = ID_MAX_LENGTH): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    return value.length >= MIN_LENGTH && value.length <= maxLength && VALUE.test(value) ? value : undefined;
  }
  return undefined;
}

/** HttpOnly (no script reads it), Secure (TLS only), SameSite=Lax: sent on the IdP's redirect back, not on a foreign site's POST. */
export function setCookie(name: string, value: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Path=/; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; HttpOnly; Secure; SameSite=Lax`;
}

export const clearCookie = (name: string): string => setCookie(name, 'x'.repeat(16), 0);
