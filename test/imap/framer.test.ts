import t from 'tap';
import fc from 'fast-check';
import { ImapFramer, type FramerEvent, type FramerLimits } from '../../src/imap/framer.js';

const LIMITS: FramerLimits = { maxLineBytes: 8192, maxLiteralBytes: 65536 };

type Plain =
  | { type: 'command'; segments: string[] }
  | { type: 'line'; line: string }
  | { type: 'literal-continue' }
  | { type: 'error'; code: string; tag: string | undefined; fatal: boolean };

function plain(event: FramerEvent): Plain {
  switch (event.type) {
    case 'command':
      return { type: 'command', segments: event.segments.map((s) => s.toString('latin1')) };
    case 'line':
      return { type: 'line', line: event.line.toString('latin1') };
    default:
      return event;
  }
}

/** Push each chunk, pulling every available event after each push. */
function run(framer: ImapFramer, chunks: Buffer[]): Plain[] {
  const events: Plain[] = [];
  for (const chunk of chunks) {
    framer.push(chunk);
    for (let e = framer.next(); e !== null; e = framer.next()) events.push(plain(e));
  }
  return events;
}

function feed(input: string | Buffer, chunks: (b: Buffer) => Buffer[], limits = LIMITS): Plain[] {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  return run(new ImapFramer(limits), chunks(bytes));
}

const whole = (b: Buffer): Buffer[] => [b];
const byteByByte = (b: Buffer): Buffer[] => [...b].map((x) => Buffer.from([x]));
const splitAt =
  (i: number) =>
  (b: Buffer): Buffer[] => [b.subarray(0, i), b.subarray(i)];

interface Asserts {
  same(found: unknown, wanted: unknown, message: string): unknown;
  equal(found: unknown, wanted: unknown, message: string): unknown;
}

/** Same events whole, byte by byte and at every two-chunk split. */
function assertSplitInvariant(t: Asserts, input: string, expected: Plain[], limits = LIMITS): void {
  t.same(feed(input, whole, limits), expected, 'whole');
  t.same(feed(input, byteByByte, limits), expected, 'byte by byte');
  let mismatches = 0;
  for (let i = 0; i <= input.length; i++) {
    if (JSON.stringify(feed(input, splitAt(i), limits)) !== JSON.stringify(expected)) mismatches++;
  }
  t.equal(mismatches, 0, 'every two-chunk split');
}

const BASE64_4K = Buffer.alloc(3072, 'user=alice@example.org\x01auth=Bearer x\x01\x01').toString('base64');

const SAMPLES: { name: string; input: string; events: Plain[] }[] = [
  { name: 'CAPABILITY', input: 'a1 CAPABILITY\r\n', events: [{ type: 'command', segments: ['a1 CAPABILITY'] }] },
  {
    name: 'LOGIN quoted',
    input: 'a2 LOGIN alice "p\\"w"\r\n',
    events: [{ type: 'command', segments: ['a2 LOGIN alice "p\\"w"'] }],
  },
  {
    name: 'LOGIN literals',
    input: 'a3 LOGIN {5}\r\nalice {3+}\r\npwd\r\n',
    events: [{ type: 'literal-continue' }, { type: 'command', segments: ['a3 LOGIN {5}', 'alice', ' {3+}', 'pwd', ''] }],
  },
  {
    name: 'AUTHENTICATE XOAUTH2',
    input: `a4 AUTHENTICATE XOAUTH2 ${BASE64_4K}\r\n`,
    events: [{ type: 'command', segments: [`a4 AUTHENTICATE XOAUTH2 ${BASE64_4K}`] }],
  },
  {
    name: 'ID list',
    input: 'a5 ID ("name" "Thunderbird" "version" "128.0")\r\n',
    events: [{ type: 'command', segments: ['a5 ID ("name" "Thunderbird" "version" "128.0")'] }],
  },
  { name: 'ID NIL', input: 'a6 ID NIL\n', events: [{ type: 'command', segments: ['a6 ID NIL'] }] },
];

t.test('samples: identical events for every chunking', async (t) => {
  t.equal(BASE64_4K.length, 4096);
  for (const s of SAMPLES) t.test(s.name, async (t) => assertSplitInvariant(t, s.input, s.events));
  t.test('all pipelined', async (t) => {
    const input = SAMPLES.map((s) => s.input).join('');
    t.same(feed(input, whole), SAMPLES.flatMap((s) => s.events));
    t.same(feed(input, byteByByte), SAMPLES.flatMap((s) => s.events));
  });
});

t.test('literal body is binary safe and may hold CRLF', async (t) => {
  assertSplitInvariant(t, 'x LOGIN {4}\r\n\r\n\0\xff {0}\r\n\r\n', [
    { type: 'literal-continue' },
    { type: 'literal-continue' },
    { type: 'command', segments: ['x LOGIN {4}', '\r\n\0\xff', ' {0}', '', ''] },
  ]);
});

t.test('not literal markers', async (t) => {
  for (const line of ['a {12345678901}', 'a {x1}', 'a {}', 'a {+}', 'a 1}', 'a {1 }', 'a {1++}']) {
    t.same(feed(`${line}\r\n`, whole), [{ type: 'command', segments: [line] }], line);
  }
  t.same(feed('a {1234567890}\r\n', whole, { maxLineBytes: 100, maxLiteralBytes: 10 }), [
    { type: 'error', code: 'ERR_IMAP_LITERAL_TOO_BIG', tag: 'a', fatal: false },
  ], 'ten digits is a marker');
});

t.test('line length cap', async (t) => {
  const limits = { maxLineBytes: 32, maxLiteralBytes: 16 };
  const atCap = `a1 NOOP ${'x'.repeat(32 - 8)}`;
  t.equal(atCap.length, 32);
  const over = `${atCap}y`;
  const tooLong: Plain = { type: 'error', code: 'ERR_IMAP_LINE_TOO_LONG', tag: 'a1', fatal: false };
  const next: Plain = { type: 'command', segments: ['a2 NOOP'] };

  t.test('at the cap, CRLF', async (t) =>
    assertSplitInvariant(t, `${atCap}\r\na2 NOOP\r\n`, [{ type: 'command', segments: [atCap] }, next], limits));
  t.test('at the cap, bare LF', async (t) =>
    assertSplitInvariant(t, `${atCap}\na2 NOOP\r\n`, [{ type: 'command', segments: [atCap] }, next], limits));
  t.test('one over, CRLF', async (t) => assertSplitInvariant(t, `${over}\r\na2 NOOP\r\n`, [tooLong, next], limits));
  t.test('one over, bare LF', async (t) => assertSplitInvariant(t, `${over}\na2 NOOP\r\n`, [tooLong, next], limits));
  t.test('far over', async (t) =>
    assertSplitInvariant(t, `${over}${'z'.repeat(100)}\r\na2 NOOP\r\n`, [tooLong, next], limits));
  t.test('no readable tag', async (t) =>
    assertSplitInvariant(t, `${'+'.repeat(40)}\r\na2 NOOP\r\n`, [{ type: 'error', code: 'ERR_IMAP_LINE_TOO_LONG', tag: undefined, fatal: false }, next], limits));
  t.test('text around literals counts together', async (t) => {
    const first = `a1 LOGIN ${'u'.repeat(16)} {2}`; // 29 bytes: 3 more fit after the literal
    t.equal(first.length, 29);
    assertSplitInvariant(t, `${first}\r\npw ${'v'.repeat(2)}\r\na2 NOOP\r\n`, [
      { type: 'literal-continue' },
      { type: 'command', segments: [first, 'pw', ' vv'] },
      next,
    ], limits);
    assertSplitInvariant(t, `${first}\r\npw ${'v'.repeat(3)}\r\na2 NOOP\r\n`, [
      { type: 'literal-continue' },
      tooLong,
      next,
    ], limits);
  });
});

t.test('literal size cap', async (t) => {
  const limits = { maxLineBytes: 64, maxLiteralBytes: 16 };
  const body = 'B'.repeat(16);
  t.test('sync at the cap', async (t) =>
    assertSplitInvariant(t, `a1 LOGIN u {16}\r\n${body}\r\n`, [
      { type: 'literal-continue' },
      { type: 'command', segments: ['a1 LOGIN u {16}', body, ''] },
    ], limits));
  t.test('non-sync at the cap', async (t) =>
    assertSplitInvariant(t, `a1 LOGIN u {16+}\r\n${body}\r\n`, [
      { type: 'command', segments: ['a1 LOGIN u {16+}', body, ''] },
    ], limits));
  t.test('sync one over: refused before "+", command dropped, not fatal', async (t) =>
    assertSplitInvariant(t, 'a1 LOGIN u {17}\r\na2 NOOP\r\n', [
      { type: 'error', code: 'ERR_IMAP_LITERAL_TOO_BIG', tag: 'a1', fatal: false },
      { type: 'command', segments: ['a2 NOOP'] },
    ], limits));
  t.test('non-sync one over: fatal, nothing after', async (t) =>
    assertSplitInvariant(t, `a1 LOGIN u {17+}\r\n${body}B\r\na2 NOOP\r\n`, [
      { type: 'error', code: 'ERR_IMAP_LITERAL_TOO_BIG', tag: 'a1', fatal: true },
    ], limits));
  t.test('the sum of literals in one command is capped', async (t) =>
    assertSplitInvariant(t, 'a1 LOGIN {10}\r\n0123456789 {7}\r\na2 NOOP\r\n', [
      { type: 'literal-continue' },
      { type: 'error', code: 'ERR_IMAP_LITERAL_TOO_BIG', tag: 'a1', fatal: false },
      { type: 'command', segments: ['a2 NOOP'] },
    ], limits));
  t.test('after a fatal error the framer stays silent', async (t) => {
    const f = new ImapFramer(limits);
    f.push(Buffer.from('a1 LOGIN u {17+}\r\n'));
    t.match(f.next(), { type: 'error', fatal: true });
    f.push(Buffer.from('a2 NOOP\r\n'));
    t.equal(f.next(), null);
    t.equal(f.bufferedBytes, 0);
  });
});

t.test("mode 'line' returns raw lines", async (t) => {
  const f = new ImapFramer(LIMITS);
  f.push(Buffer.from('a1 AUTHENTICATE PLAIN\r\n*\r\n\r\nAGFsaWNl {3}\r\na2 NOOP\r\n'));
  t.same(plain(f.next()!), { type: 'command', segments: ['a1 AUTHENTICATE PLAIN'] });
  f.mode = 'line';
  t.same(plain(f.next()!), { type: 'line', line: '*' });
  t.same(plain(f.next()!), { type: 'line', line: '' });
  t.same(plain(f.next()!), { type: 'line', line: 'AGFsaWNl {3}' }, 'no literal handling in line mode');
  f.mode = 'command';
  t.same(plain(f.next()!), { type: 'command', segments: ['a2 NOOP'] });
  t.equal(f.next(), null);

  const g = new ImapFramer({ maxLineBytes: 8, maxLiteralBytes: 0 });
  g.mode = 'line';
  g.push(Buffer.from('a1 toolong\r\nok\r\n'));
  t.same(plain(g.next()!), { type: 'error', code: 'ERR_IMAP_LINE_TOO_LONG', tag: undefined, fatal: false });
  t.same(plain(g.next()!), { type: 'line', line: 'ok' });
});

t.test('takeRemaining hands over pipelined bytes', async (t) => {
  const f = new ImapFramer(LIMITS);
  f.push(Buffer.from('a1 LOGIN u p\r\na2 SELECT INBOX\r\na3 FET'));
  t.same(plain(f.next()!), { type: 'command', segments: ['a1 LOGIN u p'] });
  t.equal(f.bufferedBytes, 'a2 SELECT INBOX\r\na3 FET'.length);
  t.equal(f.takeRemaining().toString(), 'a2 SELECT INBOX\r\na3 FET');
  t.equal(f.bufferedBytes, 0);
  t.equal(f.next(), null);
  t.equal(f.takeRemaining().length, 0);
});

t.test('discard drops plaintext pipelined after STARTTLS', async (t) => {
  const f = new ImapFramer(LIMITS);
  f.push(Buffer.from('a1 STARTTLS\r\na2 LOGIN mallory {5}\r\nhello'));
  t.same(plain(f.next()!), { type: 'command', segments: ['a1 STARTTLS'] });
  f.discard();
  t.equal(f.bufferedBytes, 0);
  t.equal(f.next(), null);
  f.push(Buffer.from('a3 CAPABILITY\r\n'));
  t.same(plain(f.next()!), { type: 'command', segments: ['a3 CAPABILITY'] });
});

t.test('a 10 MB line in 64 KiB chunks stays bounded', async (t) => {
  const f = new ImapFramer(LIMITS);
  const chunk = Buffer.alloc(64 * 1024, 'A');
  const events: Plain[] = [];
  let maxBuffered = 0;
  const started = Date.now();
  const pushAndPull = (b: Buffer): void => {
    f.push(b);
    maxBuffered = Math.max(maxBuffered, f.bufferedBytes);
    for (let e = f.next(); e !== null; e = f.next()) events.push(plain(e));
    maxBuffered = Math.max(maxBuffered, f.bufferedBytes);
  };
  pushAndPull(Buffer.from('a9 LOGIN '));
  for (let sent = 0; sent < 10 * 1024 * 1024; sent += chunk.length) pushAndPull(chunk);
  pushAndPull(Buffer.from('\r\na10 NOOP\r\n'));
  t.same(events, [
    { type: 'error', code: 'ERR_IMAP_LINE_TOO_LONG', tag: 'a9', fatal: false },
    { type: 'command', segments: ['a10 NOOP'] },
  ]);
  t.ok(maxBuffered <= chunk.length + 16, `bufferedBytes peaked at ${maxBuffered}`);
  t.ok(Date.now() - started < 5000, 'fast');
});

t.test('many tiny chunks are not quadratic', async (t) => {
  const f = new ImapFramer({ maxLineBytes: 1 << 20, maxLiteralBytes: 0 });
  const started = Date.now();
  const line = Buffer.from(`a1 AUTHENTICATE XOAUTH2 ${'Q'.repeat(500_000)}\r\n`);
  const events = run(f, byteByByte(line));
  t.equal(events.length, 1);
  t.ok(Date.now() - started < 5000, 'fast');
});

t.test('maxBufferedBytes while nobody pulls', async (t) => {
  const limits = { maxLineBytes: 16, maxLiteralBytes: 16 }; // default cap 48
  const f = new ImapFramer(limits);
  f.push(Buffer.alloc(48, 'a1 NOOP\r\n'));
  t.equal(f.bufferedBytes, 48, 'at the cap');
  t.same(plain(f.next()!), { type: 'command', segments: ['a1 NOOP'] });

  const g = new ImapFramer(limits);
  g.push(Buffer.alloc(48, 'a1 NOOP\r\n'));
  g.push(Buffer.from('x'));
  t.ok(g.bufferedBytes <= 48);
  t.same(plain(g.next()!), { type: 'error', code: 'ERR_IMAP_BUFFER_FULL', tag: 'a1', fatal: true });
  t.equal(g.next(), null);

  const h = new ImapFramer({ ...limits, maxBufferedBytes: 20 });
  h.push(Buffer.from('h1 NOOP\r\nh2'));
  h.push(Buffer.alloc(9, 'x'));
  t.equal(h.bufferedBytes, 20, 'at an explicit cap');
  h.push(Buffer.from('y'));
  t.match(h.next(), { type: 'error', code: 'ERR_IMAP_BUFFER_FULL', tag: 'h1', fatal: true });

  // One socket read after the session drained the framer is always taken:
  // a big chunk holding many small commands is fine when the session pulls.
  const k = new ImapFramer(limits);
  const many = Buffer.from('k NOOP\r\n'.repeat(50));
  k.push(Buffer.from('k NO'));
  t.equal(k.next(), null);
  k.push(many);
  let commands = 0;
  for (let e = k.next(); e !== null; e = k.next()) if (e.type === 'command') commands++;
  t.equal(commands, 50);
});

t.test('limits are validated at construction', async (t) => {
  t.throws(() => new ImapFramer({ maxLineBytes: 0, maxLiteralBytes: 1 }), /maxLineBytes/);
  t.throws(() => new ImapFramer({ maxLineBytes: 10, maxLiteralBytes: -1 }), /maxLiteralBytes/);
  t.throws(() => new ImapFramer({ maxLineBytes: 10, maxLiteralBytes: 1, maxBufferedBytes: 11 }), /maxBufferedBytes/);
  t.throws(() => new ImapFramer({ maxLineBytes: 1.5, maxLiteralBytes: 1 }), /maxLineBytes/);
});

const imapishBytes = fc
  .array(fc.constantFrom('a1', ' ', 'LOGIN', '\r', '\n', '\r\n', '{', '}', '+', '3', '0', '99', '"', 'x', '\0', '\xff'), {
    maxLength: 60,
  })
  .map((parts) => Buffer.from(parts.join(''), 'latin1'));

t.test('property: never throws, stays bounded, events are well formed', async (t) => {
  fc.assert(
    fc.property(
      fc.array(imapishBytes, { maxLength: 12 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 0, max: 20 }),
      fc.array(fc.boolean()),
      (chunks, maxLineBytes, maxLiteralBytes, modes) => {
        const f = new ImapFramer({ maxLineBytes, maxLiteralBytes });
        const cap = 2 * maxLineBytes + maxLiteralBytes;
        let m = 0;
        for (const chunk of chunks) {
          f.push(chunk);
          if (f.bufferedBytes > Math.max(cap, maxLineBytes + 1 + chunk.length)) return false;
          for (let e = f.next(); e !== null; e = f.next()) {
            if (e.type === 'command' && e.segments.length % 2 !== 1) return false;
            f.mode = modes[m++ % Math.max(modes.length, 1)] ? 'line' : 'command';
          }
          // Drained: at most one incomplete line is left.
          if (f.bufferedBytes > maxLineBytes + 1) return false;
        }
        f.takeRemaining();
        return f.bufferedBytes === 0;
      },
    ),
  );
  t.pass();
});

t.test('property: events do not depend on chunking', async (t) => {
  fc.assert(
    fc.property(imapishBytes, fc.array(fc.nat(), { maxLength: 6 }), (input, cuts) => {
      const limits = { maxLineBytes: 24, maxLiteralBytes: 8, maxBufferedBytes: 1 << 20 };
      const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
      const chunks: Buffer[] = [];
      let from = 0;
      for (const p of [...points, input.length]) {
        chunks.push(input.subarray(from, p));
        from = p;
      }
      const expected = JSON.stringify(run(new ImapFramer(limits), [input]));
      return JSON.stringify(run(new ImapFramer(limits), chunks)) === expected;
    }),
  );
  t.pass();
});
