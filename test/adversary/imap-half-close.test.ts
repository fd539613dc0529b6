// Adversary finding: a client that sends its commands and then half-closes (a script:
// `printf 'a LOGIN ..\r\nb SELECT INBOX\r\nc LOGOUT\r\n' | nc host 143`, a health check)
// got nothing at all through the proxy: the FIN arrived while the login was with the IdP or
// Dovecot, the proxy ended its side at once, and the login's OK and every pipelined reply
// were lost. Dovecot itself answers all of it before closing.
//
// TODO (not fixed here): answering a half-closed client conflicts with the deliberate
// "no backend login for clients that left" in test/reliability/client-faults.test.ts (a FIN
// and a full close look the same until a write fails). A fix tried on this branch (keep
// going after 'end' while a command is in flight, pass the FIN to Dovecot once it has been
// quiet for a second, since Dovecot drops unread pipelined input at a TLS close) made these
// pass and broke those two assertions; the trade-off is the owner's call. The failing
// cases are marked todo so the suite stays green.
import t, { type Test } from 'tap';
import net from 'node:net';
import { xoauth2 } from '../harness/raw-imap.js';
import { startStack } from '../harness/stack.js';

const { idp, proxy, alice } = await startStack(t, { proxyEnv: { ALLOW_PLAINTEXT_AUTH: '1' } });

/** Connects to the plaintext IMAP port, writes `input`, half-closes, and returns all it reads until the proxy closes. */
async function sendAndHalfClose(t: Test, input: string): Promise<string> {
  const s = net.connect(proxy.imapPort, '127.0.0.1');
  t.teardown(() => s.destroy());
  let got = '';
  s.on('data', (d: Buffer) => { got += d.toString('latin1'); });
  await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
  await new Promise((r) => setTimeout(r, 200)); // the greeting first
  s.end(input);
  await Promise.race([
    new Promise((r) => s.once('close', r)),
    new Promise((r) => setTimeout(r, 10_000)),
  ]);
  return got;
}

t.test('LOGIN, SELECT, LOGOUT then FIN: every reply arrives', { todo: 'half-close before login: see the top of this file' }, async (t) => {
  const got = await sendAndHalfClose(t, `a1 LOGIN ${alice.email} ${alice.password}\r\na2 SELECT INBOX\r\na3 LOGOUT\r\n`);
  t.match(got, /^a1 OK \[CAPABILITY /m, 'login answered');
  t.match(got, /^a2 OK /m, 'pipelined SELECT answered by Dovecot');
  t.match(got, /^a3 OK /m, 'pipelined LOGOUT answered by Dovecot');
});

t.test('AUTHENTICATE XOAUTH2 with a token then FIN: the login is answered', { todo: 'half-close before login: see the top of this file' }, async (t) => {
  const got = await sendAndHalfClose(t, `x1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}\r\nx2 LOGOUT\r\n`);
  t.match(got, /^x1 OK /m, 'login answered');
  t.match(got, /^x2 OK /m, 'LOGOUT answered');
});

t.test('LOGIN then FIN without LOGOUT: answered, and the FIN reaches Dovecot, which ends the session', { todo: 'half-close before login: see the top of this file' }, async (t) => {
  const started = Date.now();
  const got = await sendAndHalfClose(t, `l1 LOGIN ${alice.email} ${alice.password}\r\nl2 NOOP\r\n`);
  t.match(got, /^l1 OK /m);
  t.match(got, /^l2 OK /m);
  t.ok(Date.now() - started < 8000, 'closed within seconds, not at the idle timeout');
});

t.test('a bad password then FIN: the NO arrives, then the proxy closes', { todo: 'half-close before login: see the top of this file' }, async (t) => {
  const got = await sendAndHalfClose(t, `b1 LOGIN ${alice.email} wrong-password\r\n`);
  t.match(got, /^b1 NO \[AUTHENTICATIONFAILED\]/m);
});

t.test('FIN while the proxy waits for a SASL continuation: closed at once, not at the pre-login timeout', async (t) => {
  const started = Date.now();
  const got = await sendAndHalfClose(t, 'c1 AUTHENTICATE PLAIN\r\n');
  t.match(got, /^\+/m, 'the continuation was offered');
  t.ok(Date.now() - started < 5000, 'the proxy closed without waiting for the pre-login timeout');
});

t.test('only a greeting then FIN: closed at once', async (t) => {
  const started = Date.now();
  await sendAndHalfClose(t, '');
  t.ok(Date.now() - started < 5000);
});

