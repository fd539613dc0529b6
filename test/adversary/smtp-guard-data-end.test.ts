// Adversary finding: the SMTP command guard (src/smtp/data-end.ts) says it reads DATA content
// "as Postfix 3.7 reads it", and took a line "." followed by any number of CRs as the end of
// the content. Postfix reads content in records of at most line_length_limit (2048) bytes
// and strips trailing CRs only from a record that ends in LF: a line "." + 2047 or more CRs
// is a record ".\r\r…" (continued), which is content, not the end. From there on the guard
// and Postfix disagree: the guard parses the rest of the message as commands (refusing and
// dropping lines such as "STARTTLS" or "AUTH" out of the message, then holding everything
// until Postfix answers a message it is still receiving), and it counts one reply more than
// Postfix will send, so the next transaction's content is held for ever after its 354.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { RawSmtp, plainIr } from '../harness/raw-smtp.js';
import { startStack } from '../harness/stack.js';

const { backend, proxy, ca, alice } = await startStack(t);
const WEIRD = `.${'\r'.repeat(3000)}\r\n`;

async function loggedIn(t: Test): Promise<RawSmtp> {
  const s = await RawSmtp.connect(proxy.submissionsPort, { implicitTls: true, ca });
  t.teardown(() => s.close());
  t.equal((await s.reply()).code, 220);
  t.equal((await s.ehlo()).code, 250);
  t.equal((await s.command(`AUTH PLAIN ${plainIr(alice.email, alice.password)}`)).code, 235);
  return s;
}

async function send(t: Test, s: RawSmtp, body: string, what: string): Promise<void> {
  t.equal((await s.command(`MAIL FROM:<${alice.email}>`)).code, 250, `${what}: MAIL`);
  t.equal((await s.command(`RCPT TO:<${alice.email}>`)).code, 250, `${what}: RCPT`);
  t.equal((await s.command('DATA')).code, 354, `${what}: DATA`);
  s.write(body);
  const r = await s.reply(8000).catch((e: Error) => ({ code: 0, text: e.message }));
  t.equal(r.code, 250, `${what}: Postfix accepts the message`);
}

// Control: Postfix itself (DMS port 25, no proxy) takes the line as content and serves the
// next transaction; this passes.
t.test('control: Postfix directly takes the same bytes as content, then a second message', async (t) => {
  const s = await RawSmtp.connect(backend.smtpPort, { host: backend.host });
  t.teardown(() => s.close());
  t.equal((await s.reply()).code, 220);
  t.equal((await s.ehlo()).code, 250);
  await send(t, s, `Subject: direct\r\n\r\n${WEIRD}STARTTLS\r\nafter\r\n.\r\n`, 'direct first');
  await send(t, s, 'Subject: direct 2\r\n\r\nplain\r\n.\r\n', 'direct second');
});

t.test('a content line "." + 3000 CRs (content for Postfix) does not desynchronise the guard', async (t) => {
  const s = await loggedIn(t);
  const id = randomBytes(4).toString('hex');
  await send(t, s, `Subject: first ${id}\r\n\r\n${WEIRD}after\r\n.\r\n`, 'first message');
  await send(t, s, `Subject: second ${id}\r\n\r\nplain body\r\n.\r\n`, 'second message, same session');
});

t.test('a message line "STARTTLS" after such a line stays content', async (t) => {
  const s = await loggedIn(t);
  await send(t, s, `Subject: third\r\n\r\n${WEIRD}STARTTLS\r\n.\r\n`, 'message with a STARTTLS line');
});
