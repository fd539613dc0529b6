// The POP3 line framer with plain values: lines at the cap and one byte over, bare LF,
// pipelined lines, discard after STLS, the rest handed on after a login.
import t from 'tap';
import { Pop3Lines } from '../../src/pop3/lines.js';

const text = (ev: ReturnType<Pop3Lines['next']>): string | null => (ev?.type === 'line' ? ev.line.toString('latin1') : ev ? ev.type : null);

t.test('lines split on CRLF or LF, across chunks', async (t) => {
  const f = new Pop3Lines(100);
  f.push(Buffer.from('CAPA\r\nUSER a'));
  t.equal(text(f.next()), 'CAPA');
  t.equal(f.next(), null, 'no partial line');
  f.push(Buffer.from('@b\nQUIT\r\n'));
  t.equal(text(f.next()), 'USER a@b');
  t.equal(text(f.next()), 'QUIT');
  t.equal(f.next(), null);
});

t.test('a line of exactly maxLineBytes passes; one byte more ends the framer', async (t) => {
  const f = new Pop3Lines(10);
  f.push(Buffer.from(`${'a'.repeat(10)}\r\n`));
  t.equal(text(f.next()), 'a'.repeat(10));
  f.push(Buffer.from(`${'b'.repeat(11)}\r\n`));
  t.equal(text(f.next()), 'too-long');
  t.equal(f.next(), null, 'nothing after');
  const g = new Pop3Lines(10);
  g.push(Buffer.from('c'.repeat(11)));
  t.equal(text(g.next()), 'too-long', 'also before the LF arrives: nothing more is buffered');
});

t.test('a line of exactly maxLineBytes whose CR and LF come in separate reads passes, as in one read', async (t) => {
  const f = new Pop3Lines(10);
  f.push(Buffer.from(`${'a'.repeat(10)}\r`));
  t.equal(f.next(), null, 'the CR may be the start of the line end: wait for the LF');
  f.push(Buffer.from('\n'));
  t.equal(text(f.next()), 'a'.repeat(10));
  f.push(Buffer.from('b'.repeat(10)));
  t.equal(f.next(), null);
  f.push(Buffer.from('\r'));
  t.equal(f.next(), null, 'the CR alone in its read');
  f.push(Buffer.from('\r\n'));
  t.equal(text(f.next()), 'too-long', 'a CR that is not followed by the LF is part of the line: one byte over');
});

t.test('discard drops pipelined bytes; takeRemaining hands them on', async (t) => {
  const f = new Pop3Lines(100);
  f.push(Buffer.from('STLS\r\nCAPA\r\n'));
  t.equal(text(f.next()), 'STLS');
  f.discard();
  t.equal(f.next(), null);
  f.push(Buffer.from('AUTH PLAIN x\r\nSTAT\r\nLI'));
  t.equal(text(f.next()), 'AUTH PLAIN x');
  t.equal(f.takeRemaining().toString(), 'STAT\r\nLI');
  t.equal(f.next(), null);
});

// Counts the bytes Buffer#indexOf looks at while `f` runs (synchronously): the framer's scan work.
function bytesScanned(f: () => void): number {
  const indexOf = Buffer.prototype.indexOf;
  let scanned = 0;
  Buffer.prototype.indexOf = function (this: Buffer, value: never, offset?: never, encoding?: never) {
    const from = typeof offset === 'number' ? (offset < 0 ? Math.max(0, this.length + offset) : Math.min(offset, this.length)) : 0;
    scanned += this.length - from;
    return indexOf.call(this, value, offset, encoding);
  };
  try {
    f();
  } finally {
    Buffer.prototype.indexOf = indexOf;
  }
  return scanned;
}

t.test('a line of maxLineBytes fed one byte a read is scanned once, not once a read (linear, not quadratic)', async (t) => {
  const MAX = 32768; // IMAP_MAX_LINE_BYTES's default, which POP3 shares
  const f = new Pop3Lines(MAX);
  const wire = Buffer.from(`${'a'.repeat(MAX)}\n`); // bare LF: a CR read apart from its LF is tested on its own
  const got: Array<string | null> = [];
  const scanned = bytesScanned(() => {
    for (let i = 0; i < wire.length; i++) {
      f.push(wire.subarray(i, i + 1));
      for (let e = f.next(); e; e = f.next()) got.push(text(e));
    }
  });
  t.same(got, ['a'.repeat(MAX)], 'the line comes out whole');
  t.ok(scanned <= 2 * wire.length, `bytes scanned for LF: ${scanned}, at most twice the ${wire.length} received`);
});
