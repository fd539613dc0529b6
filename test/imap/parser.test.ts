import t from 'tap';
import fc from 'fast-check';
import { ImapFramer } from '../../src/imap/framer.js';
import {
  argToString,
  ImapParseError,
  parseCommand,
  peekTag,
  type ImapArg,
  type ImapCommand,
} from '../../src/imap/parser.js';
import { formatIdList, ImapQuoteError, isQuotable, quoteString } from '../../src/imap/quote.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const seg = (...parts: string[]): Buffer[] => parts.map(b);
const atom = (value: string): ImapArg => ({ type: 'atom', value });
const str = (value: string, literal = false): ImapArg => ({ type: 'string', value: b(value), literal });

/** Frame `input` as the session would (answering literal-continue) and parse every command. */
function frameAndParse(input: string): ImapCommand[] {
  const framer = new ImapFramer({ maxLineBytes: 8192, maxLiteralBytes: 65536 });
  framer.push(b(input));
  const out: ImapCommand[] = [];
  for (let e = framer.next(); e !== null; e = framer.next()) {
    if (e.type === 'command') out.push(parseCommand(e.segments));
  }
  return out;
}

function syntaxError(t: Tap, segments: Buffer[], tag: string | undefined, message: string): void {
  try {
    parseCommand(segments);
    t.fail(`should throw: ${message}`);
  } catch (err) {
    t.ok(err instanceof ImapParseError, message);
    t.match(err, { code: 'ERR_IMAP_SYNTAX', tag, name: 'ImapParseError' }, message);
  }
}

interface Tap {
  ok(value: unknown, message: string): unknown;
  fail(message: string): unknown;
  match(found: unknown, pattern: unknown, message: string): unknown;
}

const BASE64_4K = Buffer.alloc(3072, 'user=alice@example.org\x01auth=Bearer x\x01\x01').toString('base64');

t.test('sample commands', async (t) => {
  t.same(frameAndParse('a1 CAPABILITY\r\n'), [{ tag: 'a1', name: 'CAPABILITY', args: [] }]);
  t.same(frameAndParse('a2 login alice "p\\"w"\r\n'), [
    { tag: 'a2', name: 'LOGIN', args: [atom('alice'), str('p"w')] },
  ]);
  t.same(frameAndParse('a3 LOGIN {5}\r\nalice {3+}\r\npwd\r\n'), [
    { tag: 'a3', name: 'LOGIN', args: [str('alice', true), str('pwd', true)] },
  ]);
  t.same(frameAndParse(`a4 AUTHENTICATE XOAUTH2 ${BASE64_4K}\r\n`), [
    { tag: 'a4', name: 'AUTHENTICATE', args: [atom('XOAUTH2'), atom(BASE64_4K)] },
  ]);
  t.same(frameAndParse('a5 ID ("name" "Thunderbird" "version" "128.0")\r\n'), [
    {
      tag: 'a5',
      name: 'ID',
      args: [{ type: 'list', items: [str('name'), str('Thunderbird'), str('version'), str('128.0')] }],
    },
  ]);
  t.same(frameAndParse('a6 ID NIL\r\n'), [{ tag: 'a6', name: 'ID', args: [{ type: 'nil' }] }]);
});

t.test('grammar details', async (t) => {
  t.same(parseCommand(seg('a ID ()')).args, [{ type: 'list', items: [] }], 'empty list');
  t.same(parseCommand(seg('a X "" "\\\\" "caf\xc3\xa9"')).args, [str(''), str('\\'), str('caf\xc3\xa9')]);
  t.equal(argToString(parseCommand(seg('a X "caf\xc3\xa9"')).args[0]!), 'café', 'utf-8 decoding by argToString');
  t.same(parseCommand(seg('a X nil Nil')).args, [{ type: 'nil' }, { type: 'nil' }]);
  t.same(parseCommand(seg('a X foo]bar')).args, [atom('foo]bar')], '"]" allowed in astring');
  t.same(parseCommand(seg('a X  b   c  ')).args, [atom('b'), atom('c')], 'lenient about spaces');
  t.same(parseCommand(seg('a X ( "k"  NIL )')).args, [{ type: 'list', items: [str('k'), { type: 'nil' }] }]);
  t.same(parseCommand(seg('a X ({1}', 'x', ' "y")')).args, [
    { type: 'list', items: [str('x', true), str('y')] },
  ], 'literal inside a list');
  t.same(parseCommand(seg('a X {0}', '', '')).args, [str('', true)], 'empty literal');
  t.same(parseCommand(seg('a X {4}', '\r\n\0\xff', '')).args, [str('\r\n\0\xff', true)], 'binary literal');
  t.same(parseCommand(seg('a X "tab\there"')).args, [str('tab\there')]);
  const nested8 = `a X ${'('.repeat(8)}${')'.repeat(8)}`;
  t.ok(parseCommand(seg(nested8)), '8 levels of lists');
  t.same(parseCommand(seg('tag.with-odd_chars!# NOOP')).tag, 'tag.with-odd_chars!#');

  t.equal(argToString(atom('x')), 'x');
  t.equal(argToString({ type: 'nil' }), undefined);
  t.equal(argToString({ type: 'list', items: [] }), undefined);

  t.equal(peekTag(b('a1 NOOP')), 'a1');
  t.equal(peekTag(b('a1')), undefined);
  t.equal(peekTag(b('+ x')), undefined);
  t.equal(peekTag(b(' x')), undefined);
});

t.test('syntax errors carry the tag when known', async (t) => {
  const cases: [string[], string | undefined, string][] = [
    [[''], undefined, 'empty line'],
    [['a1'], undefined, 'tag only'],
    [['a1 '], 'a1', 'no name'],
    [['+a NOOP'], undefined, '"+" in tag'],
    [['* NOOP'], undefined, '"*" is not a tag'],
    [['a(1 NOOP'], undefined, '"(" in tag'],
    [['a1 NO"OP'], 'a1', 'quote in name'],
    [['a1 LOGIN "abc'], 'a1', 'unterminated quoted'],
    [['a1 LOGIN "a\\bc"'], 'a1', 'bad escape'],
    [['a1 LOGIN "a\\'], 'a1', 'escape at end'],
    [['a1 LOGIN "a\rb"'], 'a1', 'CR in quoted'],
    [['a1 LOGIN "a\0b"'], 'a1', 'NUL in quoted'],
    [['a1 LOGIN "a"b'], 'a1', 'no space after quoted'],
    [['a1 LOGIN a"b"'], 'a1', 'no space before quoted'],
    [['a1 ID ("a" "b"'], 'a1', 'unterminated list'],
    [['a1 ID ("a""b")'], 'a1', 'no space in list'],
    [['a1 ID )'], 'a1', 'stray ")"'],
    [['a1 ID ()x'], 'a1', 'no space after list'],
    [['a1 LOGIN *'], 'a1', 'wildcard is not an atom'],
    [['a1 LOGIN \xe9'], 'a1', '8-bit atom'],
    [['a1 LOGIN a\0'], 'a1', 'NUL in atom'],
    [[`a1 X ${'('.repeat(9)}${')'.repeat(9)}`], 'a1', '9 levels of lists'],
    [['a1 LOGIN {3}'], 'a1', 'literal without body'],
    [['a1 LOGIN {3}', 'ab', ''], 'a1', 'literal length mismatch'],
    [['a1 LOGIN {3} x', 'abc', ''], 'a1', 'literal marker not at end of segment'],
    [['a1 LOGIN {x}', 'abc', ''], 'a1', 'bad literal number'],
    [['a1 LOGIN {12345678901}', 'abc', ''], 'a1', 'literal number too long'],
    [['a1 LOGIN {3}', 'abc', 'x'], 'a1', 'no space after literal'],
    [['a1 LOGIN u', 'abc', ''], 'a1', 'body without marker'],
    [['a1 LOGIN {3}', 'abc'], undefined, 'even number of segments'],
    [[], undefined, 'no segments'],
  ];
  for (const [parts, tag, message] of cases) syntaxError(t, seg(...parts), tag, message);
  syntaxError(t, ['not a buffer'] as unknown as Buffer[], undefined, 'not buffers');
});

t.test('error messages never contain argument values', async (t) => {
  const secret = 'S3cr3t-Passw0rd';
  const inputs: Buffer[][] = [
    seg(`a1 LOGIN alice "${secret}`),
    seg(`a1 LOGIN alice "${secret}\\x"`),
    seg(`a1 LOGIN alice ${secret}"`),
    seg(`a1 LOGIN alice {${secret.length}}`, `${secret}x`, ''),
    seg(`a1 LOGIN alice {${secret.length}}`, secret, secret),
    seg(`a1 ID ("${secret}"`),
    seg(`${secret}`),
    seg(`a1 ${secret}"`),
  ];
  for (const segments of inputs) {
    try {
      parseCommand(segments);
      t.fail('should throw');
    } catch (err) {
      t.ok(err instanceof ImapParseError);
      const e = err as ImapParseError;
      t.notMatch(`${e.message} ${String(e)} ${JSON.stringify(e)} ${e.stack ?? ''}`, secret);
    }
  }
});

const imapishText = fc
  .array(
    fc.constantFrom('a1', ' ', '  ', 'LOGIN', 'ID', 'NIL', '"', '\\', '(', ')', '{3}', '{3+}', '{', '}', ']', '+', '*', 'x', '\0', '\r', '\xe9'),
    { maxLength: 30 },
  )
  .map((parts) => b(parts.join('')));

t.test('property: only ImapParseError is thrown', async (t) => {
  const check = (segments: Buffer[]): boolean => {
    try {
      const cmd = parseCommand(segments);
      return typeof cmd.tag === 'string' && cmd.name === cmd.name.toUpperCase();
    } catch (err) {
      return err instanceof ImapParseError && err.code === 'ERR_IMAP_SYNTAX';
    }
  };
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)), { maxLength: 5 }), check));
  fc.assert(fc.property(fc.array(imapishText, { minLength: 1, maxLength: 5 }), check));
  // Literal bodies of the announced size, so that parsing gets past them.
  fc.assert(
    fc.property(fc.array(fc.tuple(imapishText, fc.uint8Array({ maxLength: 5 })), { maxLength: 3 }), imapishText, (pairs, last) =>
      check([
        ...pairs.flatMap(([text, body]) => [Buffer.concat([text, b(`{${body.length}}`)]), Buffer.from(body)]),
        last,
      ]),
    ),
  );
  t.pass();
});

t.test('quoteString / formatIdList', async (t) => {
  t.equal(quoteString('plain'), '"plain"');
  t.equal(quoteString('a"b\\c'), '"a\\"b\\\\c"');
  t.equal(quoteString(''), '""');
  for (const bad of ['a\r\nb', 'a\0', 'café', '\x7f', '\t']) {
    t.throws(() => quoteString(bad), { code: 'ERR_IMAP_UNQUOTABLE' });
    t.notOk(isQuotable(bad));
  }
  try {
    quoteString('hunter2\r\n');
  } catch (err) {
    t.ok(err instanceof ImapQuoteError);
    t.notMatch((err as Error).message, 'hunter2');
  }
  // Round trip through the parser.
  const value = 'we "quote" \\ this';
  t.same(argToString(parseCommand(seg(`a X ${quoteString(value)}`)).args[0]!), value);

  t.equal(formatIdList({}), 'NIL');
  t.equal(formatIdList({ name: 'oauth2-mail-proxy', version: '0.1.0' }), '("name" "oauth2-mail-proxy" "version" "0.1.0")');
  t.equal(formatIdList({ name: 'x', bad: 'line\r\nbreak', 'caf\xe9': 'v' }), '("name" "x")', 'unquotable pairs left out');
  t.equal(formatIdList({ bad: '\0' }), 'NIL');
  t.equal(formatIdList({ ['k'.repeat(31)]: 'v', ok: 'v'.repeat(1025), fine: 'v'.repeat(1024) }), `("fine" "${'v'.repeat(1024)}")`, 'RFC 2971 §3.3 sizes');
  const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v']));
  t.equal((formatIdList(many).match(/"k\d+"/g) ?? []).length, 30, 'at most 30 pairs');
  const parsed = parseCommand(seg(`a ID ${formatIdList({ name: 'a"b', os: 'Linux' })}`));
  t.same(parsed.args, [{ type: 'list', items: [str('name'), str('a"b'), str('os'), str('Linux')] }], 'parses back');
});
