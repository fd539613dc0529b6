import t from 'tap';
import { decodeBase64Response } from '../../../src/auth/sasl/base64.js';
import {
  decodeLoginPassword,
  decodeLoginStep,
  decodeLoginUsername,
  LOGIN_PASSWORD_PROMPT,
  LOGIN_USERNAME_PROMPT,
} from '../../../src/auth/sasl/login.js';
import { SaslError } from '../../../src/auth/sasl/types.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const PW = 'Pa55-w0rd-SECRET';

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (!(err instanceof SaslError)) throw err;
    if (`${err.message}${err.stack}`.includes(PW)) return 'LEAKED';
    return err.code;
  }
}

t.test('prompts are base64 of "Username:" and "Password:"', async (t) => {
  t.equal(Buffer.from(LOGIN_USERNAME_PROMPT, 'base64').toString(), 'Username:');
  t.equal(Buffer.from(LOGIN_PASSWORD_PROMPT, 'base64').toString(), 'Password:');
});

t.test('two steps to credentials', async (t) => {
  t.same(decodeLoginStep(decodeBase64Response('YWxpY2VAZXhhbXBsZS5jb20='), b(PW)), {
    kind: 'password',
    mechanism: 'LOGIN',
    authzid: undefined,
    username: 'alice@example.com',
    password: PW,
  });
  t.equal(decodeLoginUsername(b('Jürgen')), 'Jürgen');
  t.equal(decodeLoginPassword(b(' pässwörd\t')), ' pässwörd\t', 'same rules as a PLAIN password');
});

t.test('rejected user names', async (t) => {
  t.equal(codeOf(() => decodeLoginUsername(b(''))), 'ERR_SASL_EMPTY');
  t.equal(codeOf(() => decodeLoginUsername(b('al\0ice'))), 'ERR_SASL_NUL');
  t.equal(codeOf(() => decodeLoginUsername(b('alice\r\na1 OK'))), 'ERR_SASL_CONTROL');
  t.equal(codeOf(() => decodeLoginUsername(Buffer.from([0x61, 0xff]))), 'ERR_SASL_UTF8');
  t.equal(codeOf(() => decodeLoginUsername(b('a'.repeat(255)))), 'ok');
  t.equal(codeOf(() => decodeLoginUsername(b('a'.repeat(256)))), 'ERR_SASL_TOO_LONG');
});

t.test('rejected passwords, never quoted', async (t) => {
  t.equal(codeOf(() => decodeLoginPassword(b(''))), 'ERR_SASL_EMPTY');
  t.equal(codeOf(() => decodeLoginPassword(b(`${PW}\0x`))), 'ERR_SASL_NUL');
  t.equal(codeOf(() => decodeLoginPassword(Buffer.concat([b(PW), Buffer.from([0xc3])]))), 'ERR_SASL_UTF8');
  t.equal(codeOf(() => decodeLoginPassword(b(PW.padEnd(255, 'x')))), 'ok');
  t.equal(codeOf(() => decodeLoginPassword(b(PW.padEnd(256, 'x')))), 'ERR_SASL_TOO_LONG');
  t.equal(codeOf(() => decodeLoginPassword(b(PW.padEnd(256, 'x')), { maxFieldBytes: 256 })), 'ok');
  t.equal(codeOf(() => decodeLoginStep(b('bad\nname'), b(PW))), 'ERR_SASL_CONTROL');
});
