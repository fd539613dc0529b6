import t from 'tap';
import * as sasl from '../../../src/auth/sasl/index.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

t.test('decodeSaslResponse dispatches one-step mechanisms', async (t) => {
  t.equal(sasl.decodeSaslResponse('OAUTHBEARER', b('n,,\x01auth=Bearer abc\x01\x01')).mechanism, 'OAUTHBEARER');
  t.equal(sasl.decodeSaslResponse('XOAUTH2', b('user=a\x01auth=Bearer abc\x01\x01')).mechanism, 'XOAUTH2');
  t.equal(sasl.decodeSaslResponse('PLAIN', b('\0a\0pw')).mechanism, 'PLAIN');
  t.throws(() => sasl.decodeSaslResponse('PLAIN', b('\0a\0pw'), { maxFieldBytes: 1 }), { code: 'ERR_SASL_TOO_LONG' }, 'options passed on');
  t.throws(() => sasl.decodeSaslResponse('XOAUTH2', b('')), sasl.SaslError);
});

t.test('parseSaslMechanism: case-insensitive, ASCII only', async (t) => {
  t.equal(sasl.parseSaslMechanism('oauthbearer'), 'OAUTHBEARER');
  t.equal(sasl.parseSaslMechanism('XOauth2'), 'XOAUTH2');
  t.equal(sasl.parseSaslMechanism('plain'), 'PLAIN');
  t.equal(sasl.parseSaslMechanism('LOGIN'), 'LOGIN');
  t.equal(sasl.parseSaslMechanism('pla\u0131n'), undefined, 'dotless i does not upper-case into PLAIN');
  t.equal(sasl.parseSaslMechanism('CRAM-MD5'), undefined);
  t.equal(sasl.parseSaslMechanism(''), undefined);
});

t.test('re-exports', async (t) => {
  for (const name of [
    'decodeBase64Response',
    'decodeOauthbearer',
    'decodeXoauth2',
    'decodePlain',
    'decodeLoginUsername',
    'decodeLoginPassword',
    'decodeLoginStep',
    'oauthbearerFailure',
    'xoauth2Failure',
    'isSaslErrorAck',
    'validateUsername',
    'SaslError',
  ]) {
    t.type((sasl as Record<string, unknown>)[name], 'function', name);
  }
  t.equal(sasl.DEFAULT_MAX_SASL_RESPONSE_BYTES, 12288);
  t.equal(sasl.MAX_FIELD_BYTES, 255);
});
