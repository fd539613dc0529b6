// Looks inside a JWT *without* verifying it, only to route it to the issuer that can verify
// it. Nothing read here is trusted: the chosen validator checks signature and claims.
//
// Recognition is lenient on purpose (issue 16): a JWT with "=" padding, blanks, a trailing
// "." or the standard base64 alphabet is not a valid compact JWS (RFC 7515 §7.1), but many
// IdPs still accept it at userinfo or introspection. Were it taken for an opaque token, it
// would skip the issuer's own (strict) JWT checks and be sent to other IdPs. So anything
// whose first part reads as a JOSE header is a JWT here, routed by its `iss`; the strict
// validator then refuses it if it is malformed.

export interface JwtPeek {
  readonly iss: string | undefined;
  readonly alg: string | undefined;
  /** The payload's `exp` when it is a number: unverified, so it may only shorten how long a decision is kept. */
  readonly exp: number | undefined;
  /** A JWE (RFC 7516: the header has `enc`): the payload, and so `iss`, is not readable. */
  readonly encrypted: boolean;
}

const BLANKS = /[\s]+/g;

/** base64url or base64, padded or not; undefined when it is neither. */
function lenientBase64(part: string): Buffer | undefined {
  const s = part.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return /^[A-Za-z0-9_-]+$/.test(s) ? Buffer.from(s, 'base64url') : undefined;
}

function jsonObject(part: string | undefined): Record<string, unknown> | undefined {
  const bytes = part === undefined ? undefined : lenientBase64(part);
  if (!bytes) return undefined;
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A JOSE header (a JSON object with a string `alg`, RFC 7515 §4.1.1) first: a JWT, however mangled. */
export function peekJwt(token: string): JwtPeek | undefined {
  const parts = token.replace(BLANKS, '').split('.');
  if (parts.length < 2) return undefined;
  const header = jsonObject(parts[0]);
  if (!header || typeof header.alg !== 'string') return undefined;
  const encrypted = header.enc !== undefined;
  const payload = encrypted ? undefined : jsonObject(parts[1]);
  const exp = typeof payload?.exp === 'number' && Number.isFinite(payload.exp) ? payload.exp : undefined;
  return { iss: typeof payload?.iss === 'string' ? payload.iss : undefined, alg: header.alg, exp, encrypted };
}
