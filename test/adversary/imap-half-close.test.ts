// A client that sends its commands and then half-closes before its login is answered (a
// script: `printf 'a LOGIN ..\r\nb SELECT INBOX\r\nc LOGOUT\r\n' | nc -N host 143`): the proxy
// ends the session at the FIN, answers nothing more and makes no backend login for it.
//
// Decided, not an accident (an adversary round found it; these were todo tests since): Dovecot
// itself would answer such a script, but a FIN and a full close look the same until a write
// fails, and a client that left must not get a master login made for nobody
// (test/reliability/client-faults.test.ts: "no backend login for clients that left"). The
// login that was in flight is 'gone', not a failure: nothing is counted against the address or user and
// Fail2Ban gets no line. A script must keep its side open until the replies came (nc without
// -N; docs/reliability.md).
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

/** What the FIN left behind: the client heard only the greeting, no login and no failure was made for it, and it went within `ms`. */
async function endedAtFin(t: Test, input: string, what: string): Promise<void> {
  const before = proxy.logs().length;
  const started = Date.now();
  const got = await sendAndHalfClose(t, input);
  const took = Date.now() - started;
  t.match(got, /^\* OK \[CAPABILITY [^\r]*\r\n$/, `${what}: the greeting and nothing after it`);
  t.ok(took < 5000, `${what}: closed ${took} ms after the FIN, not at a time-out`);
  await new Promise((r) => setTimeout(r, 1500)); // a login that went on would be logged by now
  const lines = proxy.logs().slice(before);
  t.equal(lines.filter((l) => l.event === 'login').length, 0, `${what}: no backend login for a client that left`);
  t.equal(lines.filter((l) => l.event === 'auth-failed').length, 0, `${what}: nothing counted, no Fail2Ban line`);
}

t.test('LOGIN, SELECT, LOGOUT then FIN: the session ends at the FIN', async (t) => {
  await endedAtFin(t, `a1 LOGIN ${alice.email} ${alice.password}\r\na2 SELECT INBOX\r\na3 LOGOUT\r\n`, 'password login');
});

t.test('AUTHENTICATE XOAUTH2 with a token then FIN: the session ends at the FIN', async (t) => {
  await endedAtFin(t, `x1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}\r\nx2 LOGOUT\r\n`, 'token login');
});

t.test('a bad password then FIN: no reply, and not counted as a failure', async (t) => {
  await endedAtFin(t, `b1 LOGIN ${alice.email} wrong-password\r\n`, 'bad password');
});

t.test('after those FINs the same address still logs in: the proxy holds nothing against it', async (t) => {
  const s = net.connect(proxy.imapPort, '127.0.0.1');
  t.teardown(() => s.destroy());
  let got = '';
  s.on('data', (d: Buffer) => { got += d.toString('latin1'); });
  await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
  s.write(`n1 LOGIN ${alice.email} ${alice.password}\r\n`);
  const deadline = Date.now() + 10_000;
  while (!/^n1 /m.test(got) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.match(got, /^n1 OK /m, 'logged in');
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

