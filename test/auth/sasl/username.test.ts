import t from 'tap';
import { SaslError } from '../../../src/auth/sasl/types.js';
import { decodeUtf8, MAX_FIELD_BYTES, validateUsername } from '../../../src/auth/sasl/username.js';

function codeOf(v: string | SaslError): string {
  return v instanceof SaslError ? v.code : 'ok';
}

t.test('valid names come back as given', async (t) => {
  for (const name of ['alice@example.com', 'Alice@Example.COM', 'jürgen@bücher.example', '用户@例子.广告', 'a b', 'x']) {
    t.equal(validateUsername(name), name);
  }
});

t.test('refused names', async (t) => {
  t.equal(codeOf(validateUsername('')), 'ERR_SASL_EMPTY');
  t.equal(codeOf(validateUsername('ali\0ce')), 'ERR_SASL_NUL');
  for (const bad of ['a\rb', 'a\nb', 'a\tb', 'a\x01b', 'a\x1bb', 'a\x7fb', 'a\u0085b', 'a\u2028b', 'a\u2029b', 'a\u202eb', 'a\u2066b']) {
    // The message names code points: a raw U+2028 would split the TAP line.
    const label = [...bad].map((c) => c.codePointAt(0)!.toString(16)).join(' ');
    t.equal(codeOf(validateUsername(bad)), 'ERR_SASL_CONTROL', label);
  }
});

t.test('255-byte cap counts UTF-8 bytes', async (t) => {
  t.equal(MAX_FIELD_BYTES, 255);
  t.equal(codeOf(validateUsername('a'.repeat(255))), 'ok');
  t.equal(codeOf(validateUsername('a'.repeat(256))), 'ERR_SASL_TOO_LONG');
  t.equal(codeOf(validateUsername('é'.repeat(127) + 'a')), 'ok', '255 bytes');
  t.equal(codeOf(validateUsername('é'.repeat(128))), 'ERR_SASL_TOO_LONG', '256 bytes, 128 chars');
  t.equal(codeOf(validateUsername('a'.repeat(300), 300)), 'ok', 'configurable');
});

t.test('error text never quotes the input', async (t) => {
  const err = validateUsername('evil\r\nFAKE LOG LINE');
  t.ok(err instanceof SaslError);
  t.notMatch((err as SaslError).message, /evil|FAKE/);
});

t.test('decodeUtf8 is strict', async (t) => {
  t.equal(decodeUtf8(Buffer.from('jürgen'), 'f'), 'jürgen');
  for (const bytes of [[0xff], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]]) {
    t.throws(() => decodeUtf8(Buffer.from(bytes), 'f'), { code: 'ERR_SASL_UTF8' }, bytes.join(','));
  }
});
