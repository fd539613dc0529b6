// A sign-in in progress (state, nonce, PKCE verifier) travels in the browser's login cookie,
// sealed with AES-256-GCM, instead of in a server-side table: an unauthenticated GET /login
// then costs the server no memory, so nobody can flood out real users' sign-ins. The seal
// binds the sign-in to its expiry (PORTAL_LOGIN_TTL_MS) and to this cookie's purpose (the
// additional data), and is secret (the verifier must not reach anyone but the token
// endpoint: RFC 7636 §4.1). It is good for one sign-in: the IdP's code is single-use
// (RFC 6749 §4.1.2), the state must match the callback's, and a successful callback clears
// the cookie.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** What the callback needs to finish a sign-in begun in this browser. */
export interface PendingLogin {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
}

export const SEAL_KEY_BYTES = 32;
const IV_BYTES = 12; // GCM's recommended nonce size (NIST SP 800-38D §8.2)
const TAG_BYTES = 16;
/** Binds the ciphertext to this use: a value sealed for anything else does not open here. */
const PURPOSE = Buffer.from('oauth2-mail-proxy portal sign-in v1');
/** openid-client's random values are 43 characters; anything far longer was not made by us. */
const MAX_FIELD = 128;

interface Sealed { s: string; n: string; v: string; e: number }

export const newSealKey = (): Buffer => randomBytes(SEAL_KEY_BYTES);

/** The cookie value: base64url(iv | ciphertext | tag). A fresh random IV per seal. */
export function sealLogin(key: Buffer, login: PendingLogin, expiresAt: number): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(PURPOSE);
  const body: Sealed = { s: login.state, n: login.nonce, v: login.verifier, e: expiresAt };
  const text = Buffer.concat([cipher.update(JSON.stringify(body), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, text, cipher.getAuthTag()]).toString('base64url');
}

/** The sign-in sealed in `value` when it is ours (under `key`), intact and not expired at `now`; else undefined, never a throw. */
export function openLogin(key: Buffer, value: string | undefined, now: number): PendingLogin | undefined {
  if (!value) return undefined;
  const raw = Buffer.from(value, 'base64url');
  if (raw.length <= IV_BYTES + TAG_BYTES) return undefined;
  let body: unknown;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(PURPOSE);
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const text = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
    body = JSON.parse(text.toString('utf8'));
  } catch {
    return undefined; // tampered, truncated, or sealed under another key (another deployment, a restart)
  }
  const b = body as Partial<Sealed>;
  const field = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= MAX_FIELD;
  if (!field(b.s) || !field(b.n) || !field(b.v) || typeof b.e !== 'number' || !(now < b.e)) return undefined;
  return { state: b.s, nonce: b.n, verifier: b.v };
}
