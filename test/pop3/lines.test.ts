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
