// Mode "local": verify a JWT access token against the issuer's JWKS (RFC 9068 §4): the
// algorithm from a pinned allow-list (never `none`, never HS* with a public key), the
// signature, `iss` exactly, our audience in `aud`, `exp` required, `exp`/`nbf` with a small
// leeway, and the header `typ` (RFC 9068 §2.1 `at+jwt`; configurable because Keycloak,
// Authentik and Entra send `JWT`: IDP-NOTES §1).
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { normaliseTyp } from '../../config/issuers.js';
import { IdpHttpError } from '../http.js';
import { JwksCoolingDownError, usableKey, type JwksStore } from '../jwks.js';
import { invalid, unavailable, type TokenResult, type TokenValidator } from '../token-result.js';

// RFC 7515 §7.1: three base64url parts, no padding, nothing else. A JWT "repaired" with "=",
// blanks or a trailing dot is routed here by jwt-peek.ts and refused here (issue 16).
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface JwtValidatorOptions {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly algorithms: readonly string[];
  /** Normalised (lower-case, no "application/"); empty: not checked. */
  readonly jwtTypes: readonly string[];
  readonly clockToleranceSeconds: number;
}

export class JwtValidator implements TokenValidator {
  readonly mode = 'local';

  constructor(private readonly jwks: JwksStore, private readonly opts: JwtValidatorOptions, private readonly now: () => number = Date.now) {}

  async validate(token: string): Promise<TokenResult> {
    if (!COMPACT_JWS.test(token)) return invalid('not a compact JWS (RFC 7515 §7.1: three base64url parts, no padding)');
    try {
      // typ first: an ID token (or anything not an access token) is refused before any key fetch.
      const header = decodeProtectedHeader(token);
      if (this.opts.jwtTypes.length && !this.opts.jwtTypes.includes(normaliseTyp(String(header.typ ?? '')))) {
        return invalid(`JWT typ ${header.typ === undefined ? '(none)' : String(header.typ).slice(0, 32)} not accepted (expected ${this.opts.jwtTypes.join(' or ')}; RFC 9068 §2.1)`);
      }
      const options = {
        issuer: this.opts.issuer,
        audience: [...this.opts.audiences],
        algorithms: [...this.opts.algorithms],
        clockTolerance: this.opts.clockToleranceSeconds,
        requiredClaims: ['exp'],
        currentDate: new Date(this.now()),
      };
      const payload = await jwtVerify(token, this.jwks.resolve, options).then(
        (r) => r.payload,
        (err: unknown) => (err instanceof errors.JWKSMultipleMatchingKeys ? verifyWithEach(token, header.kid, err, options) : Promise.reject(err)),
      );
      // Keycloak marks its tokens in the payload (typ Bearer / ID / Refresh) while the header
      // says JWT for all of them: refuse its ID and refresh tokens presented as access tokens.
      if (typeof payload.typ === 'string' && !/^bearer$/i.test(payload.typ)) return invalid(`JWT payload typ ${payload.typ.slice(0, 32)} is not an access token`);
      return { status: 'valid', claims: payload as Record<string, unknown>, expiresAt: payload.exp! };
    } catch (err) {
      if (err instanceof IdpHttpError) return unavailable(err.message, err.code === 'ERR_IDP_DISCOVERY');
      if (err instanceof JwksCoolingDownError) return unavailable(err.message);
      if (err instanceof errors.JOSEError) return invalid(describe(err));
      throw err;
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * RFC 7517 §4.5 makes distinct kids a SHOULD: a set may hold several keys that match the
 * token (one kid twice, or no kid and several keys of its type). jose leaves trying them to
 * the caller; each is the issuer's, so the first whose signature verifies decides (its claims
 * are then checked as usual). At most the keys of the set, which OAUTH2_MAX_RESPONSE_BYTES bounds.
 */
async function verifyWithEach(token: string, kid: unknown, candidates: InstanceType<typeof errors.JWKSMultipleMatchingKeys>, options: JWTVerifyOptions): Promise<JWTPayload> {
  // A candidate too short to use is skipped; if no other verifies, the token may be that
  // key's, so the IdP's fault decides (unavailable), not a bad signature.
  let unusable: unknown;
  for await (const key of candidates) {
    try {
      return (await jwtVerify(token, usableKey(key, kid), options)).payload;
    } catch (err) {
      if (err instanceof IdpHttpError) unusable ??= err;
      else if (!(err instanceof errors.JWSSignatureVerificationFailed)) throw err;
    }
  }
  throw unusable ?? new errors.JWSSignatureVerificationFailed();
}

function describe(err: InstanceType<typeof errors.JOSEError>): string {
  if (err instanceof errors.JWTExpired) return 'JWT expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `JWT claim ${err.claim}: ${err.message}`;
  if (err instanceof errors.JOSEAlgNotAllowed) return 'JWT alg not in the allow-list';
  if (err instanceof errors.JWKSNoMatchingKey) return "no key in the issuer's JWKS matches the JWT's kid";
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'JWT signature verification failed';
  return `JWT not accepted (${err.code})`;
}
