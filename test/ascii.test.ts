// The ASCII folds take shortcuts (nothing to change; ASCII only: the native fold). They must
// fold exactly as the plain per-letter definition does, for every kind of string.
import t from 'tap';
import { asciiLower, asciiTrim, asciiUpper } from '../src/ascii.js';

const lower = (s: string): string => s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 0x20));
const upper = (s: string): string => s.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) & ~0x20));
const trim = (s: string): string => s.replace(/^[ \t\r\n\v\f]+|[ \t\r\n\v\f]+$/g, '');

const samples = [
  '', 'a', 'Z', 'nil', 'NIL', 'AUTHENTICATE', 'authenticate', 'OAuthBearer', 'alice@example.test', 'Alice@Example.TEST',
  'bixhPWFsaWNlQGV4YW1wbGUudGVzdCwBYXV0aD1CZWFyZXIgZXlKaGJHY2lPaUpTVXpJMU5pSjkBAQ==', '0123456789+/=',
  '\u212Aate@example.test', 'plaın', 'ſmtp', 'Straße', 'ÀÉÎõü', '\u0130stanbul', 'mixed ß and ASCII Letters', '\ud83d\ude00 Emoji x',
  ' padded ', '\t\r\n\v\fx\f\v\n\r\t', 'inner  blanks stay', '\u00a0nbsp\u00a0', '\u3000ideographic\u3000', ' ', '\t\t',
  '\x00\x1fCTL\x7f', '\x7fDEL', '\x80high',
];

t.test('asciiLower, asciiUpper and asciiTrim fold as the per-letter definition does', async (t) => {
  for (const s of samples) {
    t.equal(asciiLower(s), lower(s), `lower ${JSON.stringify(s)}`);
    t.equal(asciiUpper(s), upper(s), `upper ${JSON.stringify(s)}`);
    t.equal(asciiTrim(s), trim(s), `trim ${JSON.stringify(s)}`);
  }
});

t.test('every Latin-1 and BMP letter class around ASCII folds as defined', async (t) => {
  let all = '';
  for (let c = 0; c < 0x600; c++) all += String.fromCharCode(c);
  t.equal(asciiLower(all), lower(all));
  t.equal(asciiUpper(all), upper(all));
  for (let c = 0; c < 0x80; c++) {
    const s = `x${String.fromCharCode(c)}Y`;
    t.equal(asciiLower(s), lower(s));
    t.equal(asciiUpper(s), upper(s));
  }
});
