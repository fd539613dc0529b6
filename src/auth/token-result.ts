// What a token validator decides. 'invalid' is a bad credential (AUTHENTICATIONFAILED);
// 'unavailable' means we could not find out (IdP down, slow, misconfigured): the client
// should retry later, and must not be told its token is bad.
export type Claims = Record<string, unknown>;

export type TokenResult =
  /** `expiresAt`: the token's own end (Unix seconds) when the IdP told us; caps the cache TTL. */
  | { readonly status: 'valid'; readonly claims: Claims; readonly expiresAt?: number }
  | { readonly status: 'invalid'; readonly reason: string }
  /** `misconfigured`: our side is wrong (client credentials, discovery): logged as an error. */
  | { readonly status: 'unavailable'; readonly reason: string; readonly misconfigured?: boolean };

export interface TokenValidator {
  readonly mode: string;
  validate(token: string): Promise<TokenResult>;
  close(): Promise<void>;
}

export const invalid = (reason: string): TokenResult => ({ status: 'invalid', reason });
export const unavailable = (reason: string, misconfigured = false): TokenResult =>
  misconfigured ? { status: 'unavailable', reason, misconfigured } : { status: 'unavailable', reason };

/** A numeric date claim (RFC 7519 §2), also as the string Google's tokeninfo sends. */
export function numericDate(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}
