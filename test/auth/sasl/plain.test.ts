import t from 'tap';
import { decodeBase64Response } from '../../../src/auth/sasl/base64.js';
import { decodePlain } from '../../../src/auth/sasl/plain.js';
import { SaslError } from '../../../src/auth/sasl/types.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const PW = 'Pa55-w0rd-SECRET';

type Asserts = Pick<typeof t, 'equal' | 'fail' | 'notOk'>;

function rejects(t: Asserts, raw: Buffer, code: string, opts = {}): void {
  try {
    decodePlain(raw, opts);
    t.fail(`expected ${code}`);
  } catch (err) {
    if (!(err instanceof SaslError)) throw err;
    t.equal(err.code, code, JSON.stringify(raw.toString('latin1')));
    t.notOk(`${err.message}${err.stack}`.includes(PW), 'no password in the error');
  }
}

t.test('RFC 4616 §4 examples', async (t) => {
  t.same(decodePlain(b('\0tim\0tanstaaftanstaaf')), {
    kind: 'password',
    mechanism: 'PLAIN',
    authzid: undefined,
    username: 'tim',
    password: 'tanstaaftanstaaf',
  });
  t.same(decodePlain(b('Ursel\0Kurt\0xipj3plmq')), {
    kind: 'password',
    mechanism: 'PLAIN',
    authzid: 'Ursel',
    username: 'Kurt',
    password: 'xipj3plmq',
  });
  // Same bytes as they arrive on the wire.
  t.equal(decodePlain(decodeBase64Response('AHRpbQB0YW5zdGFhZnRhbnN0YWFm')).kind, 'password');
});

t.test('passwords are taken as given: UTF-8, spaces, controls other than NUL', async (t) => {
  for (const pw of [' lead and trail ', 'pässwörd', 'tab\there', 'x', '\x01\x7f']) {
    const c = decodePlain(b(`\0alice@example.com\0${pw}`));
    t.equal(c.kind === 'password' && c.password, pw, JSON.stringify(pw));
  }
});

t.test('field caps: 255 bytes each, one over refused, configurable', async (t) => {
  const at = 'a'.repeat(255);
  t.equal(decodePlain(b(`${at}\0${at}\0${at}`)).authzid, at);
  rejects(t, b(`${'a'.repeat(256)}\0alice\0${PW}`), 'ERR_SASL_TOO_LONG');
  rejects(t, b(`\0${'a'.repeat(256)}\0${PW}`), 'ERR_SASL_TOO_LONG');
  rejects(t, b(`\0alice\0${PW}${'x'.repeat(256 - PW.length)}`), 'ERR_SASL_TOO_LONG');
  rejects(t, b(`\0alice\0${PW}`), 'ERR_SASL_TOO_LONG', { maxFieldBytes: PW.length - 1 });
  const long = 'p'.repeat(1024);
  const c = decodePlain(b(`\0alice\0${long}`), { maxFieldBytes: 1024 });
  t.equal(c.kind === 'password' && c.password, long);
});

t.test('rejected', async (t) => {
  rejects(t, b(''), 'ERR_SASL_SYNTAX');
  rejects(t, b(`alice${PW}`), 'ERR_SASL_SYNTAX');
  rejects(t, b(`alice\0${PW}`), 'ERR_SASL_SYNTAX');
  rejects(t, b(`\0alice\0${PW}\0`), 'ERR_SASL_NUL');
  rejects(t, b(`\0alice\0pa\0${PW}`), 'ERR_SASL_NUL');
  rejects(t, b(`\0\0${PW}`), 'ERR_SASL_EMPTY');
  rejects(t, b('\0alice\0'), 'ERR_SASL_EMPTY');
  rejects(t, b(`\0ali\rce\0${PW}`), 'ERR_SASL_CONTROL');
  rejects(t, b(`bo\nb\0alice\0${PW}`), 'ERR_SASL_CONTROL');
  rejects(t, Buffer.concat([b('\0alice\0'), b(PW), Buffer.from([0xff])]), 'ERR_SASL_UTF8');
  rejects(t, Buffer.concat([b('\0al'), Buffer.from([0xe2, 0x82]), b(`\0${PW}`)]), 'ERR_SASL_UTF8');
});
