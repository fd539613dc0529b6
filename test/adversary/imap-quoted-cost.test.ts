// Adversary finding: a pre-login command line of many short quoted strings (`a NOOP "" "" ...`)
// cost the parser time and memory quadratic in the line length: each quoted string allocated
// (and zero-filled) a buffer as long as the rest of the line. One 32 KiB line took ~170 ms of
// the single event loop; 40 such lines from one unauthenticated client held every other
// client (logged-in sessions too) for 3.4 s. NOOP ignores its arguments and counts toward
// no budget, so nothing stopped the flood.
import t from 'tap';
import { parseCommand } from '../../src/imap/parser.js';

/** Bytes handed out by Buffer.alloc / allocUnsafe / allocUnsafeSlow while `fn` runs. */
function allocatedBytes(fn: () => void): number {
  const names = ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const;
  const saved = names.map((n) => Buffer[n]);
  let total = 0;
  names.forEach((n, i) => {
    const orig = saved[i]! as (size: number, ...rest: unknown[]) => Buffer;
    (Buffer as unknown as Record<string, unknown>)[n] = (size: number, ...rest: unknown[]) => {
      total += size;
      return orig.call(Buffer, size, ...rest);
    };
  });
  try {
    fn();
  } finally {
    names.forEach((n, i) => { (Buffer as unknown as Record<string, unknown>)[n] = saved[i]; });
  }
  return total;
}

t.test('parsing a line of many quoted strings allocates in proportion to the line, not its square', async (t) => {
  const line = Buffer.from(`a NOOP ${'"" '.repeat(10_000)}`, 'latin1'); // ~30 KiB, under IMAP_MAX_LINE_BYTES
  let args = 0;
  const bytes = allocatedBytes(() => { args = parseCommand([line]).args.length; });
  t.equal(args, 10_000, 'every quoted string parsed');
  // Quadratic: ~10_000 × 15 KiB = 150 MB. Linear: at most a few times the line.
  t.ok(bytes <= 4 * line.length, `allocated ${bytes} bytes for a ${line.length}-byte line`);
});

t.test('quoted strings with escapes still decode exactly', async (t) => {
  const cmd = parseCommand([Buffer.from('a LOGIN "a\\"b\\\\c" "" "plain" "\\\\"', 'latin1')]);
  t.same(cmd.args.map((a) => (a.type === 'string' ? a.value.toString('latin1') : null)), ['a"b\\c', '', 'plain', '\\']);
});

t.test('a quoted string is a copy, not a view of the line buffer', async (t) => {
  const line = Buffer.from('a LOGIN "user" "pw"', 'latin1');
  const cmd = parseCommand([line]);
  line.fill(0x78);
  t.same(cmd.args.map((a) => (a.type === 'string' ? a.value.toString('latin1') : null)), ['user', 'pw']);
});
