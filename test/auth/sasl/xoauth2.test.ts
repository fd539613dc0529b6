import t from 'tap';
import { decodeBase64Response } from '../../../src/auth/sasl/base64.js';
import { SaslError } from '../../../src/auth/sasl/types.js';
import { decodeXoauth2 } from '../../../src/auth/sasl/xoauth2.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const AT = 'ya29.a0AfB_byC-Secret~Token+Value/xyz==';
const SECRET = 'S3cretT0ken';

type Asserts = Pick<typeof t, 'equal' | 'fail' | 'notOk'>;

function rejects(t: Asserts, raw: Buffer, code: string): void {
  try {
    decodeXoauth2(raw);
    t.fail(`expected ${code}`);
  } catch (err) {
    if (!(err instanceof SaslError)) throw err;
    t.equal(err.code, code, JSON.stringify(raw.toString('latin1')));
    t.notOk(`${err.message}${err.stack}`.includes(SECRET), 'no secret in the error');
  }
}

t.test("Google's example (developers.google.com xoauth2-protocol)", async (t) => {
  const line = 'dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2cBAQ==';
  t.same(decodeXoauth2(decodeBase64Response(line)), {
    kind: 'token',
    mechanism: 'XOAUTH2',
    authzid: 'someuser@example.com',
    token: 'ya29.vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg',
  });
});

t.test('client forms', async (t) => {
  const expected = { kind: 'token', mechanism: 'XOAUTH2', authzid: 'alice@example.com', token: AT };
  // isync/mbsync via cyrus-sasl-xoauth2, Thunderbird, Roundcube 1.6, FairEmail all send this shape.
  t.same(decodeXoauth2(b(`user=alice@example.com\x01auth=Bearer ${AT}\x01\x01`)), expected, 'isync, Thunderbird');
  t.same(decodeXoauth2(b(`auth=Bearer ${AT}\x01user=alice@example.com\x01\x01`)), expected, 'keys in any order');
  for (const tail of ['\x01', '', '\x01\x01\x01']) {
    t.same(decodeXoauth2(b(`user=alice@example.com\x01auth=Bearer ${AT}${tail}`)), expected, `tail ${JSON.stringify(tail)}`);
  }
  t.same(decodeXoauth2(b(`user=alice@example.com\x01auth=bearer ${AT}\x01\x01`)), expected, 'scheme case-insensitive');
  t.same(decodeXoauth2(b(`user=alice@example.com\x01x=y\x01auth=Bearer ${AT}\x01\x01`)), expected, 'unknown key ignored');
  t.equal(decodeXoauth2(b(`auth=Bearer ${AT}\x01\x01`)).authzid, undefined, 'no user: left to policy');
  t.equal(decodeXoauth2(b(`user=\x01auth=Bearer ${AT}\x01\x01`)).authzid, undefined);
  t.equal(decodeXoauth2(b(`user=Jürgen@Bücher.example\x01auth=Bearer ${AT}\x01\x01`)).authzid, 'Jürgen@Bücher.example', 'case kept');
});

t.test('rejected', async (t) => {
  rejects(t, b(''), 'ERR_SASL_NO_AUTH');
  rejects(t, b('\x01'), 'ERR_SASL_NO_AUTH');
  rejects(t, b('user=alice@example.com\x01\x01'), 'ERR_SASL_NO_AUTH');
  rejects(t, b('user=alice@example.com\x01auth=\x01\x01'), 'ERR_SASL_NO_AUTH');
  rejects(t, b('user=alice@example.com\x01auth=Bearer \x01\x01'), 'ERR_SASL_EMPTY');
  rejects(t, b(`user=alice@example.com\x01auth=Bearer ${SECRET} x\x01\x01`), 'ERR_SASL_TOKEN');
  rejects(t, b(`user=alice@example.com\x01auth=Bearer ${SECRET}\n\x01\x01`), 'ERR_SASL_TOKEN');
  rejects(t, b(`user=alice@example.com\x01auth=${SECRET}\x01\x01`), 'ERR_SASL_TOKEN');
  rejects(t, b(`user=ali\0ce\x01auth=Bearer ${SECRET}\x01\x01`), 'ERR_SASL_NUL');
  rejects(t, b(`user=alice\r\n* OK fake\x01auth=Bearer ${SECRET}\x01\x01`), 'ERR_SASL_CONTROL');
  rejects(t, b(`user=${'a'.repeat(256)}\x01auth=Bearer ${SECRET}\x01\x01`), 'ERR_SASL_TOO_LONG');
  rejects(t, b(`user=a\x01user=b\x01auth=Bearer ${SECRET}\x01\x01`), 'ERR_SASL_SYNTAX');
  rejects(t, Buffer.concat([b('user=al'), Buffer.from([0xc3, 0x28]), b(`\x01auth=Bearer ${SECRET}\x01\x01`)]), 'ERR_SASL_UTF8');
});

t.test('a 4 KiB JWT fits', async (t) => {
  const jwt = `${Buffer.alloc(30, 1).toString('base64url')}.${Buffer.alloc(3000, 2).toString('base64url')}.${Buffer.alloc(256, 3).toString('base64url')}`;
  t.ok(jwt.length >= 4096);
  const c = decodeXoauth2(decodeBase64Response(b(`user=alice@example.com\x01auth=Bearer ${jwt}\x01\x01`).toString('base64')));
  t.equal(c.kind === 'token' && c.token, jwt);
});
