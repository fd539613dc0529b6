// XOAUTH2 (Google, developers.google.com/workspace/gmail/imap/xoauth2-protocol;
// also Microsoft Exchange Online): `user=<user>^Aauth=Bearer <token>^A^A`.
// No GS2 header, no host/port. Forgiving on key order and trailing 0x01s.
import { parseBearerAuth, parseKvPairs } from './oauthbearer.js';
import { SaslError, type SaslCredentials, type SaslDecodeOptions } from './types.js';
import { decodeUtf8, MAX_FIELD_BYTES, requireUsername } from './username.js';

export function decodeXoauth2(raw: Uint8Array, opts: SaslDecodeOptions = {}): SaslCredentials {
  const text = decodeUtf8(raw, 'XOAUTH2 response');
  // An empty message is the client's reply to our error challenge, never a credential.
  if (text === '') throw new SaslError('ERR_SASL_NO_AUTH', 'no auth value');
  const pairs = parseKvPairs(text, ['user', 'auth'] as const);
  const token = parseBearerAuth(pairs.get('auth'));
  // Google requires `user`; the identity comes from the token anyway, so a
  // missing or empty one is left for the policy to judge.
  const user = pairs.get('user') || undefined;
  return {
    kind: 'token',
    mechanism: 'XOAUTH2',
    authzid: user === undefined ? undefined : requireUsername(user, opts.maxFieldBytes ?? MAX_FIELD_BYTES),
    token,
  };
}
