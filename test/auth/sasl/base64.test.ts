import t from 'tap';
import { DEFAULT_MAX_SASL_RESPONSE_BYTES, decodeBase64Response } from '../../../src/auth/sasl/base64.js';
import { SaslError } from '../../../src/auth/sasl/types.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof SaslError)) throw err;
    return err.code;
  }
}

t.test('canonical base64 decodes', async (t) => {
  t.same(decodeBase64Response('aGVsbG8='), Buffer.from('hello'));
  t.same(decodeBase64Response('aGVsbG8h'), Buffer.from('hello!'));
  t.same(decodeBase64Response('aGk='), Buffer.from('hi'));
  t.same(decodeBase64Response('aA=='), Buffer.from('h'));
  t.same(decodeBase64Response('AQ=='), Buffer.from([1]), 'the RFC 7628 dummy reply');
  t.same(decodeBase64Response(Buffer.from('aGVsbG8=')), Buffer.from('hello'), 'bytes in');
});

t.test('empty response: "" and "=" (RFC 4959 §3)', async (t) => {
  t.same(decodeBase64Response(''), Buffer.alloc(0));
  t.same(decodeBase64Response('='), Buffer.alloc(0));
  t.same(decodeBase64Response('  '), Buffer.alloc(0));
});

t.test('surrounding SP/HTAB forgiven, nothing inside', async (t) => {
  t.same(decodeBase64Response(' \taGk= \t'), Buffer.from('hi'));
  t.equal(code(() => decodeBase64Response('aG k=')), 'ERR_SASL_BASE64');
  t.equal(code(() => decodeBase64Response('aGk=\r')), 'ERR_SASL_BASE64', 'CR is framing, not ours to eat');
  t.equal(code(() => decodeBase64Response('aGk=\n')), 'ERR_SASL_BASE64');
  t.equal(code(() => decodeBase64Response(' x'.repeat(5000) + 'x')), 'ERR_SASL_BASE64', 'inner blanks, fast');
});

t.test('what Buffer.from would swallow is refused', async (t) => {
  for (const bad of [
    'aGk', // missing padding
    'aA=', // short padding
    'aA===', // extra padding
    'aGk==', // too much padding
    '==', // padding alone
    'aA==aA==', // padding mid-stream
    'a', // lone char
    'aGk*', // invalid char
    '*', // IMAP cancel is the caller's job
    '-_8=', // base64url alphabet
    'aR==', // non-zero spare bits ("aQ==" is canonical)
    'aGl=', // non-zero spare bits ("aGk=")
    'aGVsbG8=\0',
    'aGVs\u00e9bG8=',
  ]) {
    t.equal(code(() => decodeBase64Response(bad)), 'ERR_SASL_BASE64', JSON.stringify(bad));
  }
  t.equal(code(() => decodeBase64Response(Buffer.from([0x61, 0x47, 0x6b, 0xbd]))), 'ERR_SASL_BASE64', 'non-ASCII byte');
});

t.test('size cap: at the cap and one byte over', async (t) => {
  t.equal(DEFAULT_MAX_SASL_RESPONSE_BYTES, 12288);
  const atCap = Buffer.alloc(DEFAULT_MAX_SASL_RESPONSE_BYTES, 0x41);
  t.same(decodeBase64Response(atCap.toString('base64')), atCap);
  const over = Buffer.alloc(DEFAULT_MAX_SASL_RESPONSE_BYTES + 1, 0x41);
  t.equal(code(() => decodeBase64Response(over.toString('base64'))), 'ERR_SASL_TOO_LONG');
  // A cap that is not a multiple of 3: the encoded pre-check lets the last
  // quantum through, the decoded check catches it.
  t.same(decodeBase64Response(Buffer.alloc(4).toString('base64'), 4), Buffer.alloc(4));
  t.equal(code(() => decodeBase64Response(Buffer.alloc(5).toString('base64'), 4)), 'ERR_SASL_TOO_LONG');
  t.equal(code(() => decodeBase64Response('A'.repeat(1_000_000), 4)), 'ERR_SASL_TOO_LONG', 'refused before decoding');
  t.same(decodeBase64Response('=', 0), Buffer.alloc(0));
  t.throws(() => decodeBase64Response('', -1), RangeError);
});
