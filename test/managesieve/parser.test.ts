// ManageSieve strings (RFC 5804 §4) with plain values: quoted strings, literals, atoms,
// responses in a SASL exchange, and the replies and capabilities the proxy writes.
import t from 'tap';
import { LiteralFramer, type FramerEvent } from '../../src/net/literal-framer.js';
import { parseCommand, parseResponse, quote } from '../../src/managesieve/parser.js';
import { farewell, response } from '../../src/managesieve/replies.js';
import { capabilityLines, SieveCapabilitySource, DOVECOT_DEFAULT_CAPABILITIES } from '../../src/managesieve/capabilities.js';
import { parseServerLine } from '../../src/backend/managesieve-login.js';

function frame(wire: string): Buffer[] {
  const f = new LiteralFramer({ maxLineBytes: 1024, maxLiteralBytes: 1024 });
  f.push(Buffer.from(wire, 'latin1'));
  for (let ev: FramerEvent | null = f.next(); ev; ev = f.next()) if (ev.type === 'command') return ev.segments;
  throw new Error('no command framed');
}

t.test('commands: quoted strings, literals {n+} and {n}, atoms', async (t) => {
  const a = parseCommand(frame('authenticate "PLAIN" "AGFsaWNlAHB3"\r\n'));
  t.equal(a.name, 'AUTHENTICATE');
  t.same(a.args.map((x) => x.type === 'string' ? x.value.toString() : x.value), ['PLAIN', 'AGFsaWNlAHB3']);
  const l = parseCommand(frame('AUTHENTICATE "XOAUTH2" {5+}\r\nabcde\r\n'));
  t.same(l.args[1], { type: 'string', value: Buffer.from('abcde'), literal: true });
  const s = parseCommand(frame('PUTSCRIPT "a" {4}\r\nkeep\r\n'));
  t.equal(s.args.length, 2, 'a synchronizing literal is read like {n+}');
  t.same(parseCommand(frame('NOOP "a \\"q\\" \\\\"\r\n')).args[0], { type: 'string', value: Buffer.from('a "q" \\'), literal: false });
  t.same(parseCommand(frame('HAVESPACE "x" 100\r\n')).args[1], { type: 'atom', value: '100' });
});

t.test('syntax errors are SieveParseError, never a throw of another kind', async (t) => {
  for (const bad of ['"unterminated\r\n', 'NOOP "a"b\r\n', 'NOOP  "a"\r\n', 'NOOP "bad \\escape"\r\n', 'AUTHENTICATE "PLAIN"{3+}\r\nabc\r\n', '"x"\r\n']) {
    t.throws(() => parseCommand(frame(bad)), { code: 'ERR_SIEVE_SYNTAX' }, JSON.stringify(bad));
  }
});

t.test('SASL responses: exactly one string, quoted or literal', async (t) => {
  t.equal(parseResponse(frame('"AQ=="\r\n')).toString(), 'AQ==');
  t.equal(parseResponse(frame('""\r\n')).length, 0);
  t.equal(parseResponse(frame('{4+}\r\nAQ==\r\n')).toString(), 'AQ==');
  t.throws(() => parseResponse(frame('AQ==\r\n')), { code: 'ERR_SIEVE_SYNTAX' }, 'an atom is not a response');
  t.throws(() => parseResponse(frame('"a" "b"\r\n')), { code: 'ERR_SIEVE_SYNTAX' });
});

t.test('replies: codes in parentheses, texts quoted, printable ASCII only', async (t) => {
  t.equal(response('NO', 'x', 'TRYLATER'), 'NO (TRYLATER) "x"\r\n');
  t.equal(response('OK', 'a"b'), 'OK "a\\"b"\r\n');
  t.equal(farewell('(TRYLATER) Too many.'), 'BYE (TRYLATER) "Too many."\r\n');
  t.equal(farewell('Server shutting down.'), 'BYE "Server shutting down."\r\n');
  t.equal(quote('a\r\nb'), '"a??b"', 'no line break can be injected');
});

t.test('capabilities: SASL only with TLS (or plaintext allowed), STARTTLS only before TLS, SIEVE from the backend', async (t) => {
  const plain = capabilityLines({ secure: false, canStartTls: true, allowPlaintextAuth: false }, DOVECOT_DEFAULT_CAPABILITIES);
  t.match(plain, /^"SASL" ""\r$/m);
  t.match(plain, /^"STARTTLS"\r$/m);
  const tls = capabilityLines({ secure: true, canStartTls: true, allowPlaintextAuth: false }, DOVECOT_DEFAULT_CAPABILITIES);
  t.match(tls, /^"SASL" "OAUTHBEARER XOAUTH2 PLAIN LOGIN"\r$/m);
  t.notMatch(tls, /STARTTLS/);
  const src = new SieveCapabilitySource();
  src.update(new Map([['SIEVE', 'fileinto'], ['MAXREDIRECTS', '4'], ['XCLIENT', ''], ['SASL', 'PLAIN']]));
  const caps = capabilityLines({ secure: true, canStartTls: false, allowPlaintextAuth: false }, src.current);
  t.match(caps, /^"SIEVE" "fileinto"\r$/m);
  t.match(caps, /^"MAXREDIRECTS" "4"\r$/m);
  t.notMatch(caps, /XCLIENT/, 'the backend\'s own login capabilities are not passed on');
  src.update(new Map([['SASL', 'PLAIN']]));
  t.match(capabilityLines({ secure: true, canStartTls: false, allowPlaintextAuth: false }, src.current), /"SIEVE" "fileinto"/, 'an answer without SIEVE keeps the last one');
});

t.test('backend lines: capabilities and responses with codes', async (t) => {
  t.same(parseServerLine('"SIEVE" "fileinto \\"x\\""'), { kind: 'capability', name: 'SIEVE', value: 'fileinto "x"' });
  t.same(parseServerLine('"STARTTLS"'), { kind: 'capability', name: 'STARTTLS', value: '' });
  t.same(parseServerLine('NO (TRYLATER) "Try later."'), { kind: 'response', status: 'NO', code: 'TRYLATER', text: 'Try later.' });
  t.same(parseServerLine('OK'), { kind: 'response', status: 'OK', code: undefined, text: '' });
  t.equal(parseServerLine('garbage'), null);
});
