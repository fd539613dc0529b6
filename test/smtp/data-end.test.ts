// Where DATA content ends (smtp/data-end.ts), against a line-by-line model of Postfix 3.7's
// reading: lines end at LF, every CR before the LF is dropped, and the first line that is then
// "." ends the content, if it fits with its LF in one of Postfix's 2048-byte records (a longer
// one is a record without LF, its CRs kept, then a continuation: content). Random content (dots, CRs and LFs dense, or a long dot-free run as in
// a base64 attachment) fed in random pieces, starting at random offsets.
import t from 'tap';
import fc from 'fast-check';
import { DataEnd } from '../../src/smtp/data-end.js';

/** The index after the LF of the end line, or -1. */
function model(content: string): number {
  let start = 0;
  for (let lf = content.indexOf('\n'); lf >= 0; lf = content.indexOf('\n', start)) {
    if (/^\.\r*$/.test(content.slice(start, lf)) && lf + 1 - start <= 2048) return lf + 1;
    start = lf + 1;
  }
  return -1;
}

/** Feeds `content` in pieces of the given lengths, each behind `pad` bytes that are not content. */
function found(content: string, pieces: number[], pad: number): number {
  const end = new DataEnd();
  end.reset();
  let at = 0;
  let k = 0;
  while (at < content.length) {
    const n = Math.min(content.length - at, Math.max(1, pieces[k++ % pieces.length]!));
    const chunk = Buffer.from('\n.\r\n'.repeat(pad).slice(0, pad) + content.slice(at, at + n), 'latin1');
    const i = end.find(chunk, pad);
    if (i >= 0) return at + i - pad;
    at += n;
  }
  return -1;
}

const dense = fc.string({ unit: fc.constantFrom('a', '.', '.', '\r', '\n', '\n', ' '), maxLength: 60 });
// A "." line with about as many CRs as fit in a record, among other lines.
const longDot = fc.tuple(dense, fc.integer({ min: 2040, max: 2056 }), dense).map(([a, n, b]) => `${a}\n.${'\r'.repeat(n)}\n${b}`);
const sparse = fc.tuple(dense, fc.integer({ min: 0, max: 3000 }), dense).map(([a, n, b]) => `${a}${'QUJD'.repeat(n)}${b}`);

t.test('the end found is the model\'s, however the content is split', async () => {
  fc.assert(fc.property(fc.oneof(dense, sparse, longDot), fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 5 }), (content, pieces, pad) => {
    return found(content, pieces, pad) === model(content);
  }), { numRuns: 3000 });
});

t.test('examples: the end line in each form, and lines that only look like it', async (t) => {
  for (const [content, end] of [
    ['.\r\n', 3], ['.\n', 2], ['.\r\r\n', 4], ['x\r\n.\r\n', 6], ['x.\r\n.y\r\n..\r\n. \r\n', -1],
    [`${'QUJD'.repeat(20_000)}\r\n.\r\n`, 80_005], [`a.b\r\n${'QUJD'.repeat(20_000)}.\r\n`, -1],
    // Postfix's records: "." and 2046 CRs and LF fill one (the end); one CR more is content.
    [`.${'\r'.repeat(2046)}\n`, 2048], [`.${'\r'.repeat(2047)}\n`, -1], [`.${'\r'.repeat(3000)}\n.\r\n`, 3005],
  ] as const) {
    t.equal(found(content, [65536], 0), end, JSON.stringify(content.slice(0, 20)));
    t.equal(model(content), end, 'the model agrees');
  }
});
