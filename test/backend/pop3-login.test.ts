// How Dovecot pop3's answer to AUTH is read (RFC 3206 codes) and the XCLIENT line it gets.
import t from 'tap';
import { refusal, xclientLine } from '../../src/backend/pop3-login.js';

t.test('-ERR [AUTH] is a verdict; SYS/TEMP, IN-USE and LOGIN-DELAY are not; no code is not the client\'s fault', async (t) => {
  t.match(refusal('-ERR [AUTH] Authentication failed.'), { ok: false, kind: 'rejected', code: 'AUTH' });
  for (const code of ['SYS/TEMP', 'IN-USE', 'LOGIN-DELAY']) {
    t.match(refusal(`-ERR [${code}] try later`), { ok: false, kind: 'unavailable', undecided: true, code });
  }
  const none = refusal('-ERR Plaintext authentication disallowed on non-secure (SSL/TLS) connections.');
  t.match(none, { ok: false, kind: 'unavailable' });
  t.notOk('undecided' in none && none.undecided);
  // Dovecot 2.4 says it with [AUTH]: still the leg's want of TLS, no verdict on the credentials.
  t.match(refusal('-ERR [AUTH] Authentication disallowed on non-secure (SSL/TLS) connections.'), { ok: false, kind: 'unavailable', reason: /DMS_POP3_TLS/ });
});

t.test('XCLIENT: address, port, and our session id when it is safe to send', async (t) => {
  const c = { address: '2001:db8::7', port: 40001, localAddress: '::', localPort: 110, tls: true };
  t.equal(xclientLine({ ...c, sessionId: 'abc_DEF-123' }), 'XCLIENT ADDR=2001:db8::7 PORT=40001 SESSION=abc_DEF-123');
  t.equal(xclientLine({ ...c, sessionId: 'a b' }), 'XCLIENT ADDR=2001:db8::7 PORT=40001');
  t.equal(xclientLine(c), 'XCLIENT ADDR=2001:db8::7 PORT=40001');
  t.equal(xclientLine({ ...c, port: 0 }), 'XCLIENT ADDR=2001:db8::7', 'no PORT=0, which Dovecot refuses');
});
