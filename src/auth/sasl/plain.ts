// PLAIN (RFC 4616 §2): message = [authzid] UTF8NUL authcid UTF8NUL passwd.
import { SaslError, type SaslCredentials, type SaslDecodeOptions } from './types.js';
import { decodeUtf8, MAX_FIELD_BYTES, requireUsername } from './username.js';

export function decodePlain(raw: Uint8Array, opts: SaslDecodeOptions = {}): SaslCredentials {
  const maxFieldBytes = opts.maxFieldBytes ?? MAX_FIELD_BYTES;
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const first = bytes.indexOf(0);
  const second = first === -1 ? -1 : bytes.indexOf(0, first + 1);
  if (second === -1) throw new SaslError('ERR_SASL_SYNTAX', 'PLAIN needs authzid NUL authcid NUL passwd');
  // A third NUL would sit inside the password (SAFE excludes NUL).
  if (bytes.indexOf(0, second + 1) !== -1) throw new SaslError('ERR_SASL_NUL', 'PLAIN field contains NUL');

  const fields = [
    ['authzid', bytes.subarray(0, first)],
    ['authcid', bytes.subarray(first + 1, second)],
    ['password', bytes.subarray(second + 1)],
  ] as const;
  // Byte limits before any decoding work.
  for (const [name, field] of fields) {
    if (field.length > maxFieldBytes) {
      throw new SaslError('ERR_SASL_TOO_LONG', `PLAIN ${name} is ${field.length} bytes, limit ${maxFieldBytes}`);
    }
  }
  const [authzid, authcid, password] = fields.map(([name, field]) => decodeUtf8(field, `PLAIN ${name}`)) as [
    string,
    string,
    string,
  ];
  // authcid and passwd are 1*SAFE: never empty.
  if (password === '') throw new SaslError('ERR_SASL_EMPTY', 'PLAIN password is empty');
  return {
    kind: 'password',
    mechanism: 'PLAIN',
    authzid: authzid === '' ? undefined : requireUsername(authzid, maxFieldBytes),
    username: requireUsername(authcid, maxFieldBytes),
    password,
  };
}
