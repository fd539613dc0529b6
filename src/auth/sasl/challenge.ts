// The failure exchange for the token mechanisms: the server sends a base64
// JSON challenge, the client sends a dummy reply, then the server fails.
import type { SaslCredentials } from './types.js';

export interface FailureChallengeOptions {
  /** One scope that grants access (RFC 7628 §3.2.2 prefers a single scope). */
  scope?: string;
  /** https URL of the issuer's discovery document (RFC 7628 §3.2.2). */
  openidConfiguration?: string;
}

function encodeJson(body: Record<string, string | undefined>): string {
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64');
}

/**
 * OAUTHBEARER error result (RFC 7628 §3.2.2), base64 for `+ `/`334 `.
 * `schemes` follows the §4.4 example. K-9 retries only on status "400", so
 * "invalid_token" makes it give up rather than loop on a bad token.
 */
export function oauthbearerFailure(opts: FailureChallengeOptions = {}): string {
  return encodeJson({
    status: 'invalid_token',
    schemes: 'bearer',
    scope: opts.scope,
    'openid-configuration': opts.openidConfiguration,
  });
}

/** XOAUTH2 error challenge in Google's form: HTTP-style status, the string "401". */
export function xoauth2Failure(opts: Pick<FailureChallengeOptions, 'scope'> = {}): string {
  return encodeJson({ status: '401', schemes: 'bearer', scope: opts.scope });
}

/** The challenge to send when a token mechanism's credential is refused. */
export function tokenFailureChallenge(
  mechanism: Extract<SaslCredentials, { kind: 'token' }>['mechanism'],
  opts: FailureChallengeOptions = {},
): string {
  return mechanism === 'OAUTHBEARER' ? oauthbearerFailure(opts) : xoauth2Failure(opts);
}

/**
 * Whether a decoded reply to our error challenge is the expected dummy:
 * `\x01` (RFC 7628 §3.2.3) or empty (Google's XOAUTH2, and what Roundcube,
 * Net_SMTP, K-9, msmtp and cyrus-sasl-xoauth2 send for OAUTHBEARER too).
 * The IMAP abort `*` is recognised by the caller before decoding. Either
 * way the server then fails the exchange; this only tells a polite client
 * from an odd one, for the log.
 */
export function isSaslErrorAck(raw: Uint8Array): boolean {
  return raw.length === 0 || (raw.length === 1 && raw[0] === 0x01);
}
