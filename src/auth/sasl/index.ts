// SASL decoding shared by the IMAP and SMTP sessions: bytes in, credentials
// or a SaslError out.
import { asciiUpper } from '../../ascii.js';
import { decodeOauthbearer } from './oauthbearer.js';
import { decodePlain } from './plain.js';
import type { OneStepMechanism, SaslCredentials, SaslDecodeOptions, SaslMechanism } from './types.js';
import { decodeXoauth2 } from './xoauth2.js';

export { DEFAULT_MAX_SASL_RESPONSE_BYTES, decodeBase64Response } from './base64.js';
export {
  isSaslErrorAck,
  oauthbearerFailure,
  tokenFailureChallenge,
  xoauth2Failure,
  type FailureChallengeOptions,
} from './challenge.js';
export {
  decodeLoginPassword,
  decodeLoginStep,
  decodeLoginUsername,
  LOGIN_PASSWORD_PROMPT,
  LOGIN_USERNAME_PROMPT,
} from './login.js';
export { decodeOauthbearer } from './oauthbearer.js';
export { decodePlain } from './plain.js';
export {
  SaslError,
  type OneStepMechanism,
  type SaslCredentials,
  type SaslDecodeOptions,
  type SaslErrorCode,
  type SaslMechanism,
} from './types.js';
export { decodeUtf8, MAX_FIELD_BYTES, validateText, validateUsername } from './username.js';
export { decodeXoauth2 } from './xoauth2.js';

const MECHANISMS: readonly SaslMechanism[] = ['OAUTHBEARER', 'XOAUTH2', 'PLAIN', 'LOGIN'];

/** A mechanism name as the client wrote it (case-insensitive, RFC 4422 §3.1), or undefined if we do not offer it. */
export function parseSaslMechanism(name: string): SaslMechanism | undefined {
  // ASCII-only upper-casing: 'ı'.toUpperCase() is 'I', which would let "plaın" through.
  const upper = asciiUpper(name);
  return MECHANISMS.find((m) => m === upper);
}

/** Decode the single response of a one-step mechanism (LOGIN has two steps: see login.ts). */
export function decodeSaslResponse(
  mechanism: OneStepMechanism,
  raw: Uint8Array,
  opts: SaslDecodeOptions = {},
): SaslCredentials {
  switch (mechanism) {
    case 'OAUTHBEARER':
      return decodeOauthbearer(raw, opts);
    case 'XOAUTH2':
      return decodeXoauth2(raw, opts);
    case 'PLAIN':
      return decodePlain(raw, opts);
  }
}
