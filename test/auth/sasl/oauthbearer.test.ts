import t from 'tap';
import { decodeBase64Response } from '../../../src/auth/sasl/base64.js';
import { decodeOauthbearer } from '../../../src/auth/sasl/oauthbearer.js';
import { SaslError } from '../../../src/auth/sasl/types.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const AT = 'ya29.a0AfB_byC-Secret~Token+Value/xyz==';
const SECRET = 'S3cretT0ken';

type Asserts = Pick<typeof t, 'equal' | 'fail' | 'notOk'>;

/** Asserts a SaslError with that code whose message and stack hold none of the secrets. */
function rejects(t: Asserts, raw: Buffer, code: string, secrets: string[] = [SECRET]): void {
  try {
    const got = decodeOauthbearer(raw);
    t.fail(`expected ${code}, got ${JSON.stringify(got)}`);
  } catch (err) {
    if (!(err instanceof SaslError)) throw err;
    t.equal(err.code, code, JSON.stringify(raw.toString('latin1')));
    for (const s of secrets) t.notOk(`${err.message}${err.stack}`.includes(s), 'no secret in the error');
  }
}

t.test('client forms that must work', async (t) => {
  t.same(
    decodeOauthbearer(b(`n,a=alice@example.com,\x01host=imap.example.com\x01port=993\x01auth=Bearer ${AT}\x01\x01`)),
    { kind: 'token', mechanism: 'OAUTHBEARER', authzid: 'alice@example.com', token: AT, host: 'imap.example.com', port: 993 },
    "mutt/neomutt, msmtp: n,a=%s,^Ahost=%s^Aport=%d^Aauth=Bearer %s^A^A",
  );
  t.same(
    decodeOauthbearer(b(`n,a=alice@example.com,\x01auth=Bearer ${AT}\x01\x01`)),
    { kind: 'token', mechanism: 'OAUTHBEARER', authzid: 'alice@example.com', token: AT },
    'Roundcube 1.7',
  );
  t.same(
    decodeOauthbearer(b(`n,,\x01auth=Bearer ${AT}\x01\x01`)),
    { kind: 'token', mechanism: 'OAUTHBEARER', authzid: undefined, token: AT },
    'K-9 / Thunderbird Android, no authzid',
  );
  t.same(
    decodeOauthbearer(b(`y,a=alice@example.com,\x01auth=Bearer ${AT}\x01\x01`)).authzid,
    'alice@example.com',
    'y: client could bind, server cannot (RFC 5801 §5)',
  );
});

t.test('RFC 7628 §4.1 example, base64 and all', async (t) => {
  const line =
    'bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB';
  t.same(decodeOauthbearer(decodeBase64Response(line)), {
    kind: 'token',
    mechanism: 'OAUTHBEARER',
    authzid: 'user@example.com',
    token: 'vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==',
    host: 'server.example.com',
    port: 143,
  });
});

t.test('malformed but accepted (IDP-NOTES §8)', async (t) => {
  const net = decodeOauthbearer(b(`n,a=alice@example.com\x01auth=Bearer ${AT}\x01\x01`));
  t.same([net.authzid, net.kind === 'token' && net.token], ['alice@example.com', AT], 'Net_SMTP 1.12.0-1.12.1: no comma after authzid');

  t.same(
    decodeOauthbearer(b(`user=alice@example.com\x01host=smtp.example.com\x01port=587\x01auth=Bearer ${AT}\x01\x01`)),
    { kind: 'token', mechanism: 'OAUTHBEARER', authzid: 'alice@example.com', token: AT, host: 'smtp.example.com', port: 587 },
    'curl before 2019: no GS2 header',
  );
  t.equal(decodeOauthbearer(b(`user=\x01auth=Bearer ${AT}\x01\x01`)).authzid, undefined, 'curl form, empty user');
  for (const tail of ['\x01', '', '\x01\x01\x01']) {
    t.equal(decodeOauthbearer(b(`n,,\x01auth=Bearer ${AT}${tail}`)).authzid, undefined, `tail ${JSON.stringify(tail)}`);
  }
  t.same(decodeOauthbearer(b(`n,,auth=Bearer ${AT}\x01\x01`)).mechanism, 'OAUTHBEARER', 'no kvsep after the header');
  t.equal(decodeOauthbearer(b(`n,a=,\x01auth=Bearer ${AT}\x01\x01`)).authzid, undefined, 'empty a= counts as none');
});

t.test('auth value: scheme case-insensitive, 1*SP (RFC 6750 §2.1, RFC 7628 §4)', async (t) => {
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'BeArEr']) {
    const c = decodeOauthbearer(b(`n,,\x01auth=${scheme} ${AT}\x01\x01`));
    t.equal(c.kind === 'token' && c.token, AT, scheme);
  }
  const spaced = decodeOauthbearer(b(`n,,\x01auth=Bearer   ${AT}\x01\x01`));
  t.equal(spaced.kind === 'token' && spaced.token, AT);
});

t.test('unknown and reserved keys are ignored (RFC 7628 §3.1, §3.1.1)', async (t) => {
  const c = decodeOauthbearer(b(`n,,\x01mthd=POST\x01path=/\x01qs=\x01post=\x01x=y z\r\n\x01garbage\x01=nokey\x01auth=Bearer ${AT}\x01\x01`));
  t.equal(c.kind === 'token' && c.token, AT);
  t.notOk('host' in c);
  t.notOk('port' in c);
});

t.test('saslname escapes (RFC 5801 §4)', async (t) => {
  t.equal(decodeOauthbearer(b(`n,a=we=2Cird=3Dname@example.com,\x01auth=Bearer ${AT}\x01\x01`)).authzid, 'we,ird=name@example.com');
  t.equal(decodeOauthbearer(b(`n,a==3D2C,\x01auth=Bearer ${AT}\x01\x01`)).authzid, '=2C', 'unescaped once, left to right');
  t.equal(decodeOauthbearer(b(`n,a=jürgen@bücher.example,\x01auth=Bearer ${AT}\x01\x01`)).authzid, 'jürgen@bücher.example');
  for (const bad of ['a=b', 'a=2c', 'a=41', 'a=', 'a=3']) {
    rejects(t, b(`n,a=${bad},\x01auth=Bearer ${AT}\x01\x01`), 'ERR_SASL_SYNTAX');
  }
});

t.test('a 4 KiB JWT fits', async (t) => {
  const seg = (n: number): string => Buffer.alloc(n, 0xa5).toString('base64url');
  const jwt = `${seg(30)}.${seg(3000)}.${seg(256)}`;
  t.ok(jwt.length >= 4096, `jwt is ${jwt.length} chars`);
  const line = b(`n,a=alice@example.com,\x01host=imap.example.com\x01port=993\x01auth=Bearer ${jwt}\x01\x01`).toString('base64');
  const c = decodeOauthbearer(decodeBase64Response(line));
  t.equal(c.kind === 'token' && c.token, jwt);
});

t.test('rejected: no auth', async (t) => {
  rejects(t, b(''), 'ERR_SASL_NO_AUTH');
  rejects(t, b('\x01'), 'ERR_SASL_NO_AUTH', []);
  rejects(t, b('n,a=alice@example.com,\x01host=imap.example.com\x01port=993\x01\x01'), 'ERR_SASL_NO_AUTH');
  rejects(t, b('n,a=alice@example.com,\x01auth=\x01\x01'), 'ERR_SASL_NO_AUTH', []);
  rejects(t, b(`n,,\x01AUTH=Bearer ${SECRET}\x01\x01`), 'ERR_SASL_NO_AUTH');
});

t.test('rejected: bad tokens, error text holds no token', async (t) => {
  for (const value of ['Bearer', 'Bearer ', 'Bearer    ']) rejects(t, b(`n,,\x01auth=${value}\x01\x01`), 'ERR_SASL_EMPTY', []);
  for (const token of [
    `${SECRET} more`,
    `${SECRET} `,
    `${SECRET}\t`,
    `${SECRET}\r\n`,
    `${SECRET}\x7f`,
    `${SECRET}\x00`,
    `${SECRET}=x`,
    `${SECRET}é`,
    `${SECRET},`,
    `"${SECRET}"`,
  ]) {
    rejects(t, b(`n,,\x01auth=Bearer ${token}\x01\x01`), 'ERR_SASL_TOKEN');
  }
  for (const value of [`MAC ${SECRET}`, `Basic ${SECRET}`, SECRET, ` Bearer ${SECRET}`, `Bearer\t${SECRET}`]) {
    rejects(t, b(`n,,\x01auth=${value}\x01\x01`), 'ERR_SASL_TOKEN');
  }
});

t.test('rejected: bad header and authzid', async (t) => {
  rejects(t, b(`p=tls-unique,,\x01auth=Bearer ${SECRET}\x01\x01`), 'ERR_SASL_CHANNEL_BINDING');
  rejects(t, b(`p=tls-server-end-point,a=alice@example.com,\x01auth=Bearer ${SECRET}\x01\x01`), 'ERR_SASL_CHANNEL_BINDING');
  for (const header of ['F,n,,', 'x,,', 'N,,', 'n,user=someuser@example.com,', 'n,b=alice,', 'n', 'n,a=alice']) {
    rejects(t, b(`${header}\x01auth=Bearer ${SECRET}\x01\x01`.replace('alice\x01', 'alice')), 'ERR_SASL_SYNTAX');
  }
  rejects(t, b(`n,a=alice`), 'ERR_SASL_SYNTAX', []);
  rejects(t, b(`n,a=ali\0ce,\x01auth=Bearer ${SECRET}\x01\x01`), 'ERR_SASL_NUL');
  rejects(t, b(`n,a=ali\rce,\x01auth=Bearer ${SECRET}\x01\x01`), 'ERR_SASL_CONTROL');
  rejects(t, b(`user=ali\nce\x01auth=Bearer ${SECRET}\x01\x01`), 'ERR_SASL_CONTROL');
  rejects(t, b(`n,a=${'a'.repeat(256)},\x01auth=Bearer ${SECRET}\x01\x01`), 'ERR_SASL_TOO_LONG');
  t.equal(decodeOauthbearer(b(`n,a=${'a'.repeat(255)},\x01auth=Bearer ${AT}\x01\x01`)).authzid?.length, 255, 'at the cap');
  t.equal(decodeOauthbearer(b(`n,a=${'a'.repeat(256)},\x01auth=Bearer ${AT}\x01\x01`), { maxFieldBytes: 256 }).authzid?.length, 256);
  rejects(t, Buffer.concat([b('n,a=al'), Buffer.from([0xff]), b(`,\x01auth=Bearer ${SECRET}\x01\x01`)]), 'ERR_SASL_UTF8');
});

t.test('rejected: bad host, port, duplicates', async (t) => {
  for (const port of ['0', '65536', 'abc', '', '-1', '143 ', '1e3', '999999']) {
    rejects(t, b(`n,,\x01port=${port}\x01auth=Bearer ${SECRET}\x01\x01`), 'ERR_SASL_SYNTAX');
  }
  t.equal(decodeOauthbearer(b(`n,,\x01port=65535\x01auth=Bearer ${AT}\x01\x01`)).kind === 'token' && 65535, 65535);
  rejects(t, b(`n,,\x01host=imap\r\nevil\x01auth=Bearer ${SECRET}\x01\x01`), 'ERR_SASL_CONTROL');
  rejects(t, b(`n,,\x01host=${'h'.repeat(256)}\x01auth=Bearer ${SECRET}\x01\x01`), 'ERR_SASL_TOO_LONG');
  rejects(t, b(`n,,\x01auth=Bearer ${SECRET}\x01auth=Bearer other\x01\x01`), 'ERR_SASL_SYNTAX');
  rejects(t, b(`n,,\x01host=a\x01host=b\x01auth=Bearer ${SECRET}\x01\x01`), 'ERR_SASL_SYNTAX');
});
