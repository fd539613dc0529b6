// Property tests: encode -> decode round trips, and no input makes a decoder
// throw anything but SaslError or leak the secret it was handed.
import fc from 'fast-check';
import t from 'tap';
import { decodeBase64Response } from '../../../src/auth/sasl/base64.js';
import { decodeLoginPassword, decodeLoginUsername } from '../../../src/auth/sasl/login.js';
import { decodeOauthbearer } from '../../../src/auth/sasl/oauthbearer.js';
import { decodePlain } from '../../../src/auth/sasl/plain.js';
import { SaslError, type SaslCredentials } from '../../../src/auth/sasl/types.js';
import { validateUsername } from '../../../src/auth/sasl/username.js';
import { decodeXoauth2 } from '../../../src/auth/sasl/xoauth2.js';

/**
 * What an error carries as data: its message and the stack without its `at …` frames. The frames
 * are code locations; a generated password such as "property" (fast-check's generators favour
 * such words) matched a frame in CI, which is no leak.
 */
function errorText(err: Error): string {
  return `${err.message}\n${(err.stack ?? '').split('\n').filter((l) => !/^\s+at /.test(l)).join('\n')}`;
}

const B64TOKEN_CHARS = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/'];
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

// User names with the characters that need GS2 escaping well represented.
const username = fc
  .string({
    unit: fc.oneof(fc.constantFrom(',', '=', '@', '.', '=2C', 'é', '用'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
    minLength: 1,
    maxLength: 40,
  })
  .filter((s) => validateUsername(s) === s);
const token = fc
  .tuple(fc.string({ unit: fc.constantFrom(...B64TOKEN_CHARS), minLength: 12, maxLength: 600 }), fc.nat(2))
  .map(([body, pad]) => body + '='.repeat(pad));
const password = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 60 })
  .filter((s) => !s.includes('\0') && Buffer.byteLength(s) <= 255);
const scheme = fc.constantFrom('Bearer', 'bearer', 'BEARER');

/** Through base64 as it arrives on the wire. */
const wire = (message: string): Buffer => decodeBase64Response(Buffer.from(message, 'utf8').toString('base64'));
const escapeSaslname = (s: string): string => s.replace(/=/g, '=3D').replace(/,/g, '=2C');

t.test('OAUTHBEARER round trip', async () => {
  fc.assert(
    fc.property(
      fc.option(username, { nil: undefined }),
      token,
      fc.option(fc.domain(), { nil: undefined }),
      fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
      scheme,
      (authzid, tok, host, port, sch) => {
        const header = authzid === undefined ? 'n,,' : `n,a=${escapeSaslname(authzid)},`;
        const kv = `${host === undefined ? '' : `host=${host}\x01`}${port === undefined ? '' : `port=${port}\x01`}`;
        const expected: SaslCredentials = { kind: 'token', mechanism: 'OAUTHBEARER', authzid, token: tok };
        if (host !== undefined) expected.host = host;
        if (port !== undefined) expected.port = port;
        const got = decodeOauthbearer(wire(`${header}\x01${kv}auth=${sch} ${tok}\x01\x01`));
        t.strictSame(got, expected);
      },
    ),
  );
});

t.test('XOAUTH2 round trip', async () => {
  fc.assert(
    fc.property(username, token, scheme, fc.boolean(), (user, tok, sch, authFirst) => {
      const pairs = authFirst ? [`auth=${sch} ${tok}`, `user=${user}`] : [`user=${user}`, `auth=${sch} ${tok}`];
      t.strictSame(decodeXoauth2(wire(`${pairs.join('\x01')}\x01\x01`)), {
        kind: 'token',
        mechanism: 'XOAUTH2',
        authzid: user,
        token: tok,
      });
    }),
  );
});

t.test('PLAIN and LOGIN round trip', async () => {
  fc.assert(
    fc.property(fc.option(username, { nil: undefined }), username, password, (authzid, user, pw) => {
      t.strictSame(decodePlain(wire(`${authzid ?? ''}\0${user}\0${pw}`)), {
        kind: 'password',
        mechanism: 'PLAIN',
        authzid,
        username: user,
        password: pw,
      });
      t.equal(decodeLoginUsername(wire(user)), user);
      t.equal(decodeLoginPassword(wire(pw)), pw);
    }),
  );
});

t.test('base64: bytes round trip; any other line is refused with SaslError', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      t.strictSame(decodeBase64Response(Buffer.from(bytes).toString('base64')), Buffer.from(bytes));
    }),
  );
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.base64String({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 })), (line) => {
      try {
        const out = decodeBase64Response(line);
        const trimmed = line.replace(/^[ \t]+|[ \t]+$/g, '');
        if (trimmed !== '' && trimmed !== '=') t.equal(out.toString('base64'), trimmed);
      } catch (err) {
        if (!(err instanceof SaslError)) throw err;
      }
    }),
    { numRuns: 500 },
  );
});

// Fragments that steer random input into the decoders' deeper branches.
const fragment = fc.oneof(
  fc.constantFrom('n,', 'y,', 'p=tls-unique,', ',', 'a=', '\x01', '\0', '=', '=2C', '=3D', '=2', 'auth=', 'Bearer ', 'bearer ', 'user=', 'host=', 'port=', '143', '99999', ' ', '\r\n', 'é'),
  token,
  fc.string({ maxLength: 8 }),
);
const fuzzInput = fc.oneof(
  fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
  fc.array(fragment, { maxLength: 20 }).map((parts) => Buffer.from(parts.join(''), 'utf8')),
  fc.tuple(fc.array(fragment, { maxLength: 12 }), fc.uint8Array({ maxLength: 4 })).map(([p, tail]) => Buffer.concat([Buffer.from(p.join('')), tail])),
);
const decoders = {
  OAUTHBEARER: decodeOauthbearer,
  XOAUTH2: decodeXoauth2,
  PLAIN: decodePlain,
  'LOGIN user': (raw: Uint8Array) => decodeLoginUsername(raw),
  'LOGIN password': (raw: Uint8Array) => decodeLoginPassword(raw),
};

t.test('decoders throw only SaslError, and what they return is safe', async (t) => {
  for (const [name, decode] of Object.entries(decoders)) {
    fc.assert(
      fc.property(fuzzInput, (raw) => {
        let out: SaslCredentials | string;
        try {
          out = decode(raw);
        } catch (err) {
          if (err instanceof SaslError) return;
          throw err;
        }
        if (typeof out === 'string') return;
        if (out.authzid !== undefined && validateUsername(out.authzid) !== out.authzid) throw new Error('unsafe authzid');
        if (out.kind === 'token' && !B64TOKEN.test(out.token)) throw new Error('token outside b64token');
        if (out.kind === 'password' && validateUsername(out.username) !== out.username) throw new Error('unsafe user name');
      }),
      { numRuns: 1000 },
    );
    t.pass(name);
  }
});

t.test('errors never carry the token or password', async () => {
  // A valid token spoiled by one bad character, a stray space, or an unknown scheme.
  const spoil = fc.oneof(
    fc.tuple(token, fc.constantFrom(' ', '\t', '\r', '\n', '\0', '\x7f', 'é', '"', ',', '\\', '=x')).map(([tok, bad]) => ({ tok, auth: `Bearer ${tok}${bad}` })),
    fc.tuple(token, fc.constantFrom('MAC', 'Basic', 'Bearer\t', '')).map(([tok, s]) => ({ tok, auth: `${s} ${tok}` })),
    token.map((tok) => ({ tok, auth: tok })),
  );
  fc.assert(
    fc.property(spoil, fc.constantFrom('oauthbearer', 'xoauth2'), ({ tok, auth }, mech) => {
      const raw = Buffer.from(mech === 'oauthbearer' ? `n,,\x01auth=${auth}\x01\x01` : `user=u\x01auth=${auth}\x01\x01`);
      try {
        (mech === 'oauthbearer' ? decodeOauthbearer : decodeXoauth2)(raw);
      } catch (err) {
        if (!(err instanceof SaslError)) throw err;
        if (errorText(err).includes(tok)) throw new Error('token leaked into the error');
        return;
      }
      throw new Error('spoiled token accepted');
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(password.filter((p) => p.length >= 8), (pw) => {
      // Over-long, split by a third NUL, or not UTF-8: each must be refused.
      for (const raw of [
        Buffer.from(`\0u\0${pw}${'x'.repeat(256)}`),
        Buffer.from(`\0u\0${pw}\0${pw}`),
        Buffer.concat([Buffer.from(`\0u\0${pw}`), Buffer.from([0xff])]),
      ]) {
        try {
          decodePlain(raw);
        } catch (err) {
          if (!(err instanceof SaslError)) throw err;
          if (errorText(err).includes(pw)) throw new Error('password leaked into the error');
          continue;
        }
        throw new Error('bad password accepted');
      }
    }),
  );
});
