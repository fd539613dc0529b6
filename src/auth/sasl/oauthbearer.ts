// OAUTHBEARER (RFC 7628 §3.1): GS2 header, then 0x01-separated key=value
// pairs. Also the bearer `auth` value and kv-pair splitting that XOAUTH2,
// Google's pre-standard form of the same message, reuses.
import { SaslError, type SaslCredentials, type SaslDecodeOptions } from './types.js';
import { decodeUtf8, MAX_FIELD_BYTES, requireUsername, validateText } from './username.js';

const KVSEP = '\x01';
const SPACE = 0x20;
const BEARER = 'bearer';

/** `value` up to `end` is "Bearer" in any ASCII case (as /^bearer$/i: no other letter folds to these). */
function isBearerScheme(value: string, end: number): boolean {
  if (end !== BEARER.length) return false;
  for (let i = 0; i < end; i++) {
    const c = value.charCodeAt(i);
    // | 0x20 maps A-Z to a-z and leaves a-z; no other code unit becomes one of these letters.
    if ((c | 0x20) !== BEARER.charCodeAt(i) || c > 0x7f) return false;
  }
  return true;
}

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
// Strict on purpose: the token ends up in HTTP headers, URLs and log context.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** RFC 6750 §2.1 b64token: the only bearer tokens a login takes (check-token refuses the rest alike). */
export const isB64Token = (token: string): boolean => B64TOKEN.test(token);

/**
 * Split `key=value^A...` into the keys we know. Empty segments are skipped,
 * which forgives a missing final 0x01 (or one too many); unknown and
 * malformed pairs are ignored (RFC 7628 §3.1: unknown keys MUST be ignored).
 * A known key given twice is ambiguous and refused.
 */
export function parseKvPairs<K extends string>(text: string, keys: readonly K[]): Map<K, string> {
  const pairs = new Map<K, string>();
  // An indexOf walk, not split(KVSEP): on Node 20, split() with a string separator goes
  // through V8's runtime twice (Symbol.split lookup, then the split), ~1 µs per login (issue 21).
  // `eq` is the first '=' at or after `start`, searched again only once passed: linear in text.
  let eq = -1;
  for (let start = 0; start <= text.length;) {
    let end = text.indexOf(KVSEP, start);
    if (end === -1) end = text.length;
    if (eq < start) eq = text.indexOf('=', start);
    if (eq === -1) eq = Infinity;
    if (eq > start && eq < end) {
      const key = text.slice(start, eq) as K;
      if (keys.includes(key)) {
        if (pairs.has(key)) throw new SaslError('ERR_SASL_SYNTAX', `key ${key} given twice`);
        pairs.set(key, text.slice(eq + 1, end));
      }
    }
    start = end + 1;
  }
  return pairs;
}

/**
 * The token from an `auth` value, `Bearer <b64token>` (RFC 6750 §2.1:
 * `"Bearer" 1*SP b64token`; scheme case-insensitive, RFC 7628 §4).
 * A missing or empty `auth` is the client asking for discovery information
 * (RFC 7628 §3.1, §3.2.2): ERR_SASL_NO_AUTH.
 */
export function parseBearerAuth(value: string | undefined): string {
  if (value === undefined || value === '') {
    throw new SaslError('ERR_SASL_NO_AUTH', 'no auth value');
  }
  const space = value.indexOf(' ');
  if (!isBearerScheme(value, space === -1 ? value.length : space)) throw new SaslError('ERR_SASL_TOKEN', 'auth scheme is not Bearer');
  // Character walks, not /^bearer$/i and replace(/^ +/) on the ~1 KiB value (issue 21).
  let from = space + 1;
  while (space !== -1 && value.charCodeAt(from) === SPACE) from++;
  const token = space === -1 ? '' : value.slice(from);
  if (token === '') throw new SaslError('ERR_SASL_EMPTY', 'bearer token is empty');
  if (!B64TOKEN.test(token)) throw new SaslError('ERR_SASL_TOKEN', 'bearer token has characters outside b64token');
  return token;
}

// RFC 5801 §4 saslname: "," is sent as "=2C" and "=" as "=3D"; any other
// "=" MUST fail the exchange.
function unescapeSaslname(name: string): string {
  if (!name.includes('=')) return name; // nearly every name: no regex to run
  if (/=(?!2C|3D)/.test(name)) throw new SaslError('ERR_SASL_SYNTAX', 'bad escape in gs2 authzid');
  return name.replace(/=(2C|3D)/g, (_m, hex: string) => (hex === '2C' ? ',' : '='));
}

/**
 * RFC 5801 §4 gs2-header `gs2-cb-flag "," [ "a=" saslname ] ","`. Returns
 * the raw authzid ('' counts as none) and the text after the header.
 */
function parseGs2Header(text: string): { authzid: string | undefined; rest: string } {
  if (text.startsWith('p=')) {
    // The client insists on channel binding; OAUTHBEARER has none (RFC 7628
    // defines no -PLUS variant), so RFC 5801 §5 says fail.
    throw new SaslError('ERR_SASL_CHANNEL_BINDING', 'channel binding requested but not supported');
  }
  // "y": the client could bind but thinks we cannot; true, so carry on (RFC 5801 §5).
  if (!text.startsWith('n,') && !text.startsWith('y,')) {
    throw new SaslError('ERR_SASL_SYNTAX', 'invalid gs2 header');
  }
  if (text[2] === ',') return { authzid: undefined, rest: text.slice(3) };
  if (!text.startsWith('a=', 2)) throw new SaslError('ERR_SASL_SYNTAX', 'invalid gs2 header');
  // Net_SMTP 1.12.0-1.12.1 and Net_Sieve 1.4.7 drop the comma after the
  // authzid (`n,a=user^Aauth=...`), so a kvsep also ends it. A saslname
  // holding 0x01 would fail the user-name check anyway.
  const comma = text.indexOf(',', 4);
  const kvsep = text.indexOf(KVSEP, 4);
  const end = comma === -1 ? kvsep : kvsep === -1 ? comma : Math.min(comma, kvsep);
  if (end === -1) throw new SaslError('ERR_SASL_SYNTAX', 'invalid gs2 header');
  const name = unescapeSaslname(text.slice(4, end));
  return { authzid: name === '' ? undefined : name, rest: text.slice(end + 1) };
}

function parsePort(value: string): number {
  // RFC 7628 §3.1: "decimal positive integer"; leading zeros forgiven.
  const port = /^[0-9]{1,5}$/.test(value) ? Number(value) : 0;
  if (port < 1 || port > 65535) throw new SaslError('ERR_SASL_SYNTAX', 'port is not a port number');
  return port;
}

export function decodeOauthbearer(raw: Uint8Array, opts: SaslDecodeOptions = {}): SaslCredentials {
  const maxFieldBytes = opts.maxFieldBytes ?? MAX_FIELD_BYTES;
  const text = decodeUtf8(raw, 'OAUTHBEARER response');
  // RFC 7628 §3.1: a lone kvsep is valid only as the reply to an error
  // challenge; as a first message it carries nothing to check.
  if (text === '' || text === KVSEP) throw new SaslError('ERR_SASL_NO_AUTH', 'no auth value');

  let authzid: string | undefined;
  let pairs: Map<'user' | 'host' | 'port' | 'auth', string>;
  if (text.startsWith('user=')) {
    // curl until its 2019 fix (PR #3377) sent `user=..^Ahost=..^Aport=..^Aauth=..`
    // with no GS2 header; IDP-NOTES §8.
    pairs = parseKvPairs(text, ['user', 'host', 'port', 'auth'] as const);
    authzid = pairs.get('user') || undefined;
  } else {
    const header = parseGs2Header(text);
    authzid = header.authzid;
    pairs = parseKvPairs(header.rest, ['host', 'port', 'auth'] as const);
  }

  const token = parseBearerAuth(pairs.get('auth'));
  const credentials: SaslCredentials = {
    kind: 'token',
    mechanism: 'OAUTHBEARER',
    authzid: authzid === undefined ? undefined : requireUsername(authzid, maxFieldBytes),
    token,
  };
  const host = pairs.get('host');
  if (host) {
    const checked = validateText(host, 'host', MAX_FIELD_BYTES);
    if (checked instanceof SaslError) throw checked;
    credentials.host = checked;
  }
  const port = pairs.get('port');
  if (port !== undefined) credentials.port = parsePort(port);
  return credentials;
}
