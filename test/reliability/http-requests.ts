// Generators of malformed HTTP/1.1 requests for test/reliability/http-fuzz.test.ts: request
// lines, targets, headers and bodies that are broken in the ways a scanner, a confused
// client or an attacker would send, as raw bytes. Every request here must get a 4xx from
// the SCIM and ops listeners: no generated target is one they serve, and the requests that
// carry the real SCIM token have a body or target SCIM must refuse.
import fc from 'fast-check';

export interface RawRequest { readonly bytes: Buffer; readonly label: string }

// Pieces that are valid URL syntax in themselves (they reach our handlers: a `%C3%28` is a
// well-formed escape of bytes that are not UTF-8) and pieces that break the syntax.
const SOUND_PIECES = ['/', '//', 'x', 'scim', 'v2', 'Users', 'Schemas', ':99999', 'a:99999', '@', '..', '.', '%2F', '%C3%28', '%FF', '%00', '?', '&', '=', 'filter=', 'startIndex=-9'];
const BROKEN_PIECES = ['%', '%zz', '%C', '[', ']', '[::1', '#', ' ', '\t', '\x00', '\x7f', '\u00e9', '*', '\\', '"', '<', '{', 'http://'];
const JUNK = fc.string({ unit: 'binary-ascii', maxLength: 12 });

/** Request targets: pieces of URL syntax glued in the wrong order. */
export const target = (prefixes: readonly string[]): fc.Arbitrary<string> => {
  const piece = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...SOUND_PIECES) }, { weight: 2, arbitrary: fc.constantFrom(...BROKEN_PIECES) }, { weight: 1, arbitrary: JUNK });
  return fc.tuple(fc.constantFrom(...prefixes), fc.array(piece, { maxLength: 6 })).map(([p, parts]) => p + parts.join(''));
};

const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT') },
  { weight: 1, arbitrary: fc.constantFrom('', 'get', 'BREW', 'G ET', 'GET\x00', 'PRI') },
);
const version = fc.oneof({ weight: 8, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1 extra', 'http/1.1', '') });
const eol = fc.oneof({ weight: 8, arbitrary: fc.constant('\r\n') }, { weight: 1, arbitrary: fc.constantFrom('\n', '\r', '\n\r') });

const badHeader = fc.oneof(
  fc.constantFrom(
    'X-No-Colon', ' folded: continuation', 'X-Ctl: a\x01b', 'X-Nul: \x00', ': empty-name', 'X Space: v', 'X-\u00e9: v',
    'Content-Length: -1', 'Content-Length: abc', 'Content-Length: 1, 2', 'Content-Length: 99999999999999999999',
    'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip, chunked, identity', 'Transfer-Encoding: chunked\r\nContent-Length: 3',
    'Expect: 100-continue', 'Expect: x', 'Connection: Upgrade\r\nUpgrade: websocket', 'Host: a\r\nHost: b', 'Host: ',
    'Authorization: Bearer', 'Authorization: Bearer wrong-token', 'Authorization: Basic YTpi', 'Authorization: Bearer \x7f',
    'Content-Type: application/scim+json', 'Content-Type: text/plain', 'Content-Type: ;;;', 'X-Forwarded-Proto: https',
  ),
  fc.integer({ min: 1, max: 20 }).map((k) => `X-Big: ${'a'.repeat(k * 1024)}`), // past 16 KiB: 431
  fc.tuple(JUNK, JUNK).map(([k, v]) => `${k}: ${v}`),
);

// Mostly well-formed headers, so most requests reach our handlers and not only Node's parser.
const goodHeader = fc.constantFrom('Accept: */*', 'User-Agent: fuzz', 'Connection: close', 'Accept: application/scim+json', 'Content-Type: application/json');
const header = fc.oneof({ weight: 3, arbitrary: goodHeader }, { weight: 1, arbitrary: badHeader });
const withHost = fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });

const body = fc.oneof(
  fc.constant(''),
  fc.constantFrom('{', '{"userName":', '[]', '1', 'null', '"x"', '{"userName":"#x@example.test"}', '{"userName":"a b@example.test"}',
    '{"Operations":[{"op":"replace","path":"userName","value":"#x@y.test"}]}', '0\r\n\r\n', 'zz\r\nabc\r\n0\r\n\r\n'),
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a).toString('latin1')),
);

function assemble(m: string, t: string, v: string, e: string, headers: string[], b: string, host: boolean, length = false): Buffer {
  // Without a Content-Length the body is read as the next (pipelined) request.
  const framing = length && b ? [`Content-Length: ${Buffer.byteLength(b, 'latin1')}`] : [];
  const head = [`${m} ${t}${v ? ` ${v}` : ''}`, ...(host ? ['Host: 127.0.0.1'] : []), ...framing, ...headers].join(e);
  return Buffer.from(`${head}${e}${e}${b}`, 'latin1');
}

/** Anything at all, from an unauthenticated client. */
export function anyRequest(prefixes: readonly string[]): fc.Arbitrary<RawRequest> {
  return fc.record({
    m: method, t: target(prefixes), v: version, e: eol, h: fc.array(header, { maxLength: 4 }), b: body, host: withHost, length: withHost,
  }).map(({ m, t, v, e, h, b, host, length }) => ({ bytes: assemble(m, t, v, e, h, b, host, length), label: JSON.stringify(`${m} ${t} ${v} ${h.join('|')}`).slice(0, 300) }));
}

/** With the SCIM token: a write SCIM must refuse (malformed or invalid body, unknown user). */
export function authedScimWrite(token: string): fc.Arbitrary<RawRequest> {
  return fc.record({
    m: fc.constantFrom('POST', 'PUT', 'PATCH'),
    t: fc.oneof(fc.constant('/scim/v2/Users'), target(['/scim/v2/Users/'])),
    h: fc.array(badHeader, { maxLength: 2 }),
    b: body.filter((x) => x !== ''),
  }).map(({ m, t, h, b }) => {
    const headers = [`Authorization: Bearer ${token}`, 'Content-Type: application/scim+json', `Content-Length: ${Buffer.byteLength(b, 'latin1')}`, 'Connection: close', ...h];
    return { bytes: assemble(m, t, 'HTTP/1.1', '\r\n', headers, b, true), label: JSON.stringify(`${m} ${t} ${h.join('|')} ${b.slice(0, 60)}`).slice(0, 300) };
  });
}
