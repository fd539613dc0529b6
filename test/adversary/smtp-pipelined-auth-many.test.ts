// Adversary finding (fixed): commands pipelined behind AUTH are collected at takeOver()
// (src/smtp/smtp-server-takeover.ts) by letting smtp-server's parser run on "synchronously".
// smtp-server's SMTPStream yields to the event loop after 100 commands in one read
// (MAX_SYNC_COMMANDS, setImmediate), and takeOver() marks the parser closed right after:
// every command after the 100th of that read is dropped, never reaching Postfix. A client
// that pipelines AUTH with a transaction of 100+ recipients (PIPELINING is advertised; the
// proxy forwards what is pipelined behind a one-round-trip AUTH, see
// smtp-pipelined-auth.test.ts) gets no reply to the rest and waits until its timeout; the
// message is not sent.
import t, { type Test } from 'tap';
import { RawSmtp, plainIr } from '../harness/raw-smtp.js';
import { startStack } from '../harness/stack.js';

const { backend, proxy, ca, alice } = await startStack(t);

async function pipelined(t: Test, recipients: number): Promise<void> {
  const s = await RawSmtp.connect(proxy.submissionsPort, { implicitTls: true, ca });
  t.teardown(() => s.close());
  t.equal((await s.reply()).code, 220);
  t.equal((await s.ehlo()).code, 250);
  const lines = [`AUTH PLAIN ${plainIr(alice.email, alice.password)}`, `MAIL FROM:<${alice.email}>`];
  for (let i = 0; i < recipients; i++) lines.push(`RCPT TO:<${alice.email}>`);
  lines.push('DATA', '');
  await s.write(lines.join('\r\n')); // one write: AUTH and the whole transaction behind it
  t.equal((await s.reply()).code, 235, 'AUTH');
  t.equal((await s.reply(5000)).code, 250, 'MAIL FROM');
  let ok = 0;
  for (let i = 0; i < recipients; i++) {
    const r = await s.reply(5000).catch(() => null);
    if (!r) break;
    if (r.code === 250) ok += 1;
  }
  t.equal(ok, recipients, `all ${recipients} RCPT answered 250`);
  const data = await s.reply(5000).catch(() => null);
  t.equal(data?.code, 354, 'DATA reached Postfix');
}

t.test('control: 20 recipients pipelined behind AUTH', (t) => pipelined(t, 20));
t.test('120 recipients pipelined behind AUTH (one read)', (t) => pipelined(t, 120));
// ~21 KB: more than one TLS record, so reads queue behind the one with AUTH, each past 100 lines.
t.test('600 recipients pipelined behind AUTH (several reads)', (t) => pipelined(t, 600));

// Control: Postfix itself (DMS port 25, no proxy, no AUTH) answers 120 pipelined RCPTs.
t.test('control: Postfix directly, MAIL + 120 RCPT + DATA in one write', async (t) => {
  const s = await RawSmtp.connect(backend.smtpPort, { host: backend.host });
  t.teardown(() => s.close());
  t.equal((await s.reply()).code, 220);
  t.equal((await s.ehlo()).code, 250);
  const lines = ['MAIL FROM:<someone@elsewhere.test>'];
  for (let i = 0; i < 120; i++) lines.push(`RCPT TO:<${alice.email}>`);
  lines.push('DATA', '');
  await s.write(lines.join('\r\n'));
  t.equal((await s.reply(5000)).code, 250, 'MAIL FROM');
  let ok = 0;
  for (let i = 0; i < 120; i++) if ((await s.reply(5000)).code === 250) ok += 1;
  t.equal(ok, 120, 'all 120 RCPT answered 250');
  t.equal((await s.reply(5000)).code, 354, 'DATA');
});
