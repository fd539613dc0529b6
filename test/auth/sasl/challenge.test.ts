import t from 'tap';
import { isSaslErrorAck, oauthbearerFailure, tokenFailureChallenge, xoauth2Failure } from '../../../src/auth/sasl/challenge.js';

const json = (b64: string): unknown => JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));

t.test('OAUTHBEARER failure (RFC 7628 §3.2.2)', async (t) => {
  t.same(json(oauthbearerFailure()), { status: 'invalid_token', schemes: 'bearer' });
  const full = oauthbearerFailure({ scope: 'mail', openidConfiguration: 'https://idp.example.com/.well-known/openid-configuration' });
  t.equal(
    Buffer.from(full, 'base64').toString(),
    '{"status":"invalid_token","schemes":"bearer","scope":"mail","openid-configuration":"https://idp.example.com/.well-known/openid-configuration"}',
  );
  t.match(full, /^[A-Za-z0-9+/]+=*$/, 'one base64 line');
  t.same(json(oauthbearerFailure({ scope: 'a"b\\c' })), { status: 'invalid_token', schemes: 'bearer', scope: 'a"b\\c' }, 'JSON-escaped');
});

t.test("XOAUTH2 failure: Google's form, status the string 401", async (t) => {
  t.equal(
    Buffer.from(xoauth2Failure({ scope: 'https://mail.google.com/' }), 'base64').toString(),
    '{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}',
  );
  t.same(json(xoauth2Failure()), { status: '401', schemes: 'bearer' });
});

t.test('tokenFailureChallenge picks by mechanism', async (t) => {
  t.equal(tokenFailureChallenge('OAUTHBEARER', { scope: 's' }), oauthbearerFailure({ scope: 's' }));
  t.equal(tokenFailureChallenge('XOAUTH2', { scope: 's' }), xoauth2Failure({ scope: 's' }));
});

t.test('dummy reply after the challenge (RFC 7628 §3.2.3, IDP-NOTES §8)', async (t) => {
  t.ok(isSaslErrorAck(Buffer.alloc(0)), 'empty line, what most clients send');
  t.ok(isSaslErrorAck(Buffer.from([1])), 'AQ==');
  t.notOk(isSaslErrorAck(Buffer.from([1, 1])));
  t.notOk(isSaslErrorAck(Buffer.from([0])));
  t.notOk(isSaslErrorAck(Buffer.from('n,,\x01auth=Bearer x\x01\x01')));
});
