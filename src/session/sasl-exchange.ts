// The SASL exchange loop every protocol shares (RFC 4422 §3): the initial response or a first
// challenge, LOGIN's second step, cancellation. A protocol only says how a challenge goes on
// its wire (IMAP `+ `, SMTP `334 `, POP3 `+ `, ManageSieve a quoted string) and how its
// client cancels; decoding and the order of steps are the same everywhere.
import {
  decodeBase64Response, decodeLoginStep, decodeSaslResponse, LOGIN_PASSWORD_PROMPT, LOGIN_USERNAME_PROMPT,
  type SaslCredentials, type SaslMechanism,
} from '../auth/sasl/index.js';

export interface SaslWire {
  /**
   * Sends a server challenge (base64 text, possibly empty) and resolves with the client's
   * response as the base64 text it sent, or null if the client cancelled (`*`). Rejects with a
   * SaslError when the response is too long for the protocol's framing.
   */
  challenge(base64: string): Promise<string | Uint8Array | null>;
}

/**
 * Reads the credentials of one AUTHENTICATE/AUTH: null when the client cancelled. Throws
 * (or rejects) with SaslError for a response that is not canonical base64 or does not decode.
 * `initial`: the initial response (RFC 4959 SASL-IR, RFC 4954 §4), as base64 text. A
 * one-step mechanism with an initial response (nearly every login) is decided at once, with
 * no promise: the caller awaits only what has to wait for the client (issue 21).
 */
export function readSaslCredentials(mech: SaslMechanism, initial: string | undefined, wire: SaslWire): SaslCredentials | null | Promise<SaslCredentials | null> {
  if (initial !== undefined && mech !== 'LOGIN') return decodeSaslResponse(mech, decodeBase64Response(initial));
  return exchange(mech, initial, wire);
}

async function exchange(mech: SaslMechanism, initial: string | undefined, wire: SaslWire): Promise<SaslCredentials | null> {
  const step = async (prompt: string): Promise<Buffer | null> => {
    const line = await wire.challenge(prompt);
    return line === null ? null : decodeBase64Response(line);
  };
  const first = initial !== undefined ? decodeBase64Response(initial) : await step(mech === 'LOGIN' ? LOGIN_USERNAME_PROMPT : '');
  if (first === null) return null;
  if (mech !== 'LOGIN') return decodeSaslResponse(mech, first);
  // LOGIN (draft-murchison-sasl-login): user name, then password, each its own step.
  const password = await step(LOGIN_PASSWORD_PROMPT);
  return password === null ? null : decodeLoginStep(first, password);
}
