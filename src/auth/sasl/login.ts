// LOGIN (draft-murchison-sasl-login-00; no RFC): the server prompts twice and
// the client answers each prompt with one base64 line, user name first.
// The session drives the steps; these helpers check each answer.
// (SMTP `AUTH LOGIN <b64>` carries the user name as initial response.)
import { SaslError, type SaslCredentials, type SaslDecodeOptions } from './types.js';
import { decodeUtf8, MAX_FIELD_BYTES, requireUsername } from './username.js';

/** base64("Username:"), the first challenge. */
export const LOGIN_USERNAME_PROMPT = 'VXNlcm5hbWU6';
/** base64("Password:"), the second challenge. */
export const LOGIN_PASSWORD_PROMPT = 'UGFzc3dvcmQ6';

export function decodeLoginUsername(raw: Uint8Array, opts: SaslDecodeOptions = {}): string {
  return requireUsername(decodeUtf8(raw, 'LOGIN user name'), opts.maxFieldBytes ?? MAX_FIELD_BYTES);
}

/**
 * Same rules as a PLAIN password (RFC 4616 §2 SAFE: any UTF-8 but NUL), so
 * one password works through either mechanism. A password is never logged,
 * so other control characters are no injection risk here.
 */
export function decodeLoginPassword(raw: Uint8Array, opts: SaslDecodeOptions = {}): string {
  const maxFieldBytes = opts.maxFieldBytes ?? MAX_FIELD_BYTES;
  if (raw.length === 0) throw new SaslError('ERR_SASL_EMPTY', 'LOGIN password is empty');
  if (raw.length > maxFieldBytes) {
    throw new SaslError('ERR_SASL_TOO_LONG', `LOGIN password is ${raw.length} bytes, limit ${maxFieldBytes}`);
  }
  if (raw.includes(0)) throw new SaslError('ERR_SASL_NUL', 'LOGIN password contains NUL');
  return decodeUtf8(raw, 'LOGIN password');
}

/**
 * Both LOGIN answers (user name, then password) to credentials. A session
 * may call decodeLoginUsername first to refuse a bad name before prompting.
 */
export function decodeLoginStep(
  usernameRaw: Uint8Array,
  passwordRaw: Uint8Array,
  opts: SaslDecodeOptions = {},
): SaslCredentials {
  return {
    kind: 'password',
    mechanism: 'LOGIN',
    authzid: undefined,
    username: decodeLoginUsername(usernameRaw, opts),
    password: decodeLoginPassword(passwordRaw, opts),
  };
}
