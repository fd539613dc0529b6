// Adversary finding: RFC 4954 §4 lets a client pipeline further commands after an AUTH whose
// initial response completes the exchange in one round trip (PLAIN, and a good XOAUTH2 /
// OAUTHBEARER token), and the proxy advertises PIPELINING (RFC 2920). The proxy answered 235
// and dropped every command the client had pipelined behind AUTH: the client then waits
// for replies to MAIL, RCPT and DATA that never come, until its own timeout.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { RawSmtp, plainIr, xoauth2Ir } from '../harness/raw-smtp.js';
import { startStack } from '../harness/stack.js';

const { idp, proxy, ca, alice } = await startStack(t);

async function pipelined(t: Test, ir: string): Promise<void> {
  const s = await RawSmtp.connect(proxy.submissionsPort, { implicitTls: true, ca });
  t.teardown(() => s.close());
  t.equal((await s.reply()).code, 220);
  t.equal((await s.ehlo()).code, 250);
  const subject = `pipelined-${randomBytes(6).toString('hex')}`;
  // One write: AUTH with its initial response and the whole transaction behind it.
  await s.write([
    `AUTH ${ir}`,
    `MAIL FROM:<${alice.email}>`,
    `RCPT TO:<${alice.email}>`,
    'DATA',
    '',
  ].join('\r\n'));
  t.equal((await s.reply()).code, 235, 'AUTH');
  t.equal((await s.reply(5000)).code, 250, 'MAIL FROM reached Postfix');
  t.equal((await s.reply(5000)).code, 250, 'RCPT TO reached Postfix');
  t.equal((await s.reply(5000)).code, 354, 'DATA reached Postfix');
  t.equal((await s.command(`Subject: ${subject}\r\n\r\nbody\r\n.`, 10_000)).code, 250, 'message queued');
  await s.quit();
}

t.test('AUTH PLAIN with a password, then MAIL/RCPT/DATA pipelined in the same packet', async (t) => {
  await pipelined(t, `PLAIN ${plainIr(alice.email, alice.password)}`);
});

t.test('AUTH XOAUTH2 with a token, then MAIL/RCPT/DATA pipelined in the same packet', async (t) => {
  await pipelined(t, `XOAUTH2 ${xoauth2Ir(alice.email, await idp.mintToken(alice.email))}`);
});

// Last: it shuts the proxy down. The shutdown drain follows each spliced session's
// transactions from the bytes passing by; the commands pipelined behind AUTH never passed
// by it (they were handed over with the socket), so it took the session as idle inside
// DATA and said 421 in the middle of the message.
t.test('shutdown waits for a transaction that was pipelined behind AUTH', async (t) => {
  const s = await RawSmtp.connect(proxy.submissionsPort, { implicitTls: true, ca });
  t.teardown(() => s.close());
  t.equal((await s.reply()).code, 220);
  t.equal((await s.ehlo()).code, 250);
  await s.write([`AUTH PLAIN ${plainIr(alice.email, alice.password)}`, `MAIL FROM:<${alice.email}>`, `RCPT TO:<${alice.email}>`, 'DATA', ''].join('\r\n'));
  t.equal((await s.reply()).code, 235);
  t.equal((await s.reply()).code, 250);
  t.equal((await s.reply()).code, 250);
  t.equal((await s.reply()).code, 354);
  await s.write('Subject: drained\r\n\r\nfirst half\r\n');
  const stopping = proxy.server.shutdown(15_000);
  await new Promise((r) => setTimeout(r, 1500));
  t.notOk(s.closed, 'still open inside DATA');
  await s.write('second half\r\n.\r\n');
  t.equal((await s.reply(10_000)).code, 250, 'end of data accepted');
  t.equal((await s.reply(5000)).code, 421, 'then 421 between transactions');
  await stopping;
});
