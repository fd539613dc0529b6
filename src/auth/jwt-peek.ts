// Looks inside a JWT *without* verifying it, only to route it to the issuer that can verify
// it. Nothing read here is trusted: the chosen validator checks signature and claims.
import { decodeJwt, decodeProtectedHeader } from 'jose';

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/; // RFC 7515 §7.1

export interface JwtPeek { readonly iss: string | undefined; readonly alg: string | undefined }

export function peekJwt(token: string): JwtPeek | undefined {
  if (!COMPACT_JWS.test(token)) return undefined;
  try {
    const header = decodeProtectedHeader(token);
    const payload = decodeJwt(token);
    return { iss: typeof payload.iss === 'string' ? payload.iss : undefined, alg: header.alg };
  } catch {
    return undefined;
  }
}
