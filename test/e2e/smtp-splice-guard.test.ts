// After login, a client's commands reach Postfix from the proxy's address, which Postfix
// trusts for XCLIENT in DMS_SUBMISSION_LOGIN=xclient mode. Against the real Postfix
// (smtpd_authorized_xclient_hosts = 127.0.0.0/8): a client logged in as alice must not
// become bob with XCLIENT LOGIN=bob, by itself, pipelined, or after a refused DATA; the EHLO
// it sees after login offers none of it; mail whose content has such a line goes through
// byte for byte.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { ImapFlow } from 'imapflow';
import { startStack } from '../harness/stack.js';
import { eventually } from '../harness/proxy.js';
import { RawSmtp, xoauth2Ir } from '../harness/raw-smtp.js';
import type { MailUser } from '../harness/backend.js';

const s = await startStack(t, { backend: { xclient: true }, proxyEnv: { DMS_SUBMISSION_LOGIN: 'xclient' } });
const { alice, bob } = s;

/** Bob's INBOX through the proxy's IMAP (993): the source of the message with `subject`, once delivered. */
async function bobsInbox(t: Test): Promise<(subject: string, waitMs: number) => Promise<string>> {
  const imap = new ImapFlow({
    host: '127.0.0.1', port: s.proxy.imapsPort, secure: true, logger: false,
    tls: { ca: s.ca, servername: 'localhost' },
    auth: { user: bob.email, accessToken: await s.idp.mintToken(bob.email) },
  });
  await imap.connect();
  t.teardown(() => imap.logout().catch(() => imap.close()));
  const lock = await imap.getMailboxLock('INBOX');
  t.teardown(() => lock.release());
  return async (subject, waitMs) => {
    const uid = await eventually(async () => {
      await imap.noop();
      return ((await imap.search({ subject }, { uid: true })) || [])[0];
    }, waitMs, `delivery of ${subject}`);
    const msg = await imap.fetchOne(String(uid), { source: true }, { uid: true });
    return msg && msg.source ? msg.source.toString('latin1') : '';
  };
}

/** A raw session over 587 (STARTTLS) or 465, logged in as `user` with XOAUTH2. */
async function loggedIn(t: Test, user: MailUser, implicitTls = false): Promise<RawSmtp> {
  const c = await RawSmtp.connect(implicitTls ? s.proxy.submissionsPort : s.proxy.submissionPort, implicitTls ? { implicitTls, ca: s.ca } : {});
  t.teardown(() => c.quit());
  t.equal((await c.reply()).code, 220);
  await c.ehlo();
  if (!implicitTls) {
    t.equal((await c.startTls(s.ca)).code, 220);
    await c.ehlo();
  }
  const r = await c.command(`AUTH XOAUTH2 ${xoauth2Ir(user.email, await s.idp.mintToken(user.email))}`, 10_000);
  t.equal(r.code, 235, `logged in as ${user.email}`);
  return c;
}

/** Lines of Postfix's log naming bob as the SASL user of a queued message. */
const queuedAsBob = async (): Promise<string[]> => (await s.backend.postfixLog()).split('\n').filter((l) => /sasl_username=bob@example\.test/.test(l));

t.test('alice cannot become bob with XCLIENT LOGIN=bob (587 and 465): 550, and she still cannot send as bob', async (t) => {
  for (const implicitTls of [false, true]) {
    const c = await loggedIn(t, alice, implicitTls);
    const x = await c.command(`XCLIENT LOGIN=${bob.email}`);
    t.equal(x.code, 550, `XCLIENT refused (got ${x.raw})`);
    t.match(x.text, /^5\.7\.0 /);
    const xf = await c.command('XFORWARD ADDR=192.0.2.7');
    t.equal(xf.code, 550, 'XFORWARD refused');
    t.equal((await c.command(`MAIL FROM:<${bob.email}>`)).code, 250);
    const rcpt = await c.command(`RCPT TO:<${bob.email}>`);
    t.equal(rcpt.code, 553, 'still alice: sending as bob refused');
    t.match(rcpt.text, /not owned by user alice@example\.test/);
    t.equal((await c.command('RSET')).code, 250, 'the session goes on');
  }
  t.same(await queuedAsBob(), [], 'nothing queued as bob');
});

t.test('pipelined, and hidden behind a refused DATA: XCLIENT is still refused, in order', async (t) => {
  const c = await loggedIn(t, alice);
  // RFC 2920: one group. Postfix answers NOOP; then our 550; then Postfix's replies again.
  await c.write(`NOOP\r\nXCLIENT LOGIN=${bob.email}\r\nMAIL FROM:<${bob.email}>\r\nRCPT TO:<${bob.email}>\r\nDATA\r\n`);
  const codes = [];
  for (let i = 0; i < 5; i++) codes.push((await c.reply()).code);
  t.same(codes, [250, 550, 250, 553, 554], 'NOOP ok, XCLIENT refused, MAIL ok, RCPT refused (still alice), DATA: no valid recipients');
  // A client that does not wait for 354: what follows a refused DATA is commands to Postfix.
  await c.write(`RSET\r\nMAIL FROM:<${bob.email}>\r\nRCPT TO:<${bob.email}>\r\nDATA\r\nXCLIENT LOGIN=${bob.email}\r\nRSET\r\nMAIL FROM:<${bob.email}>\r\nRCPT TO:<${bob.email}>\r\n`);
  const after = [];
  for (let i = 0; i < 8; i++) after.push((await c.reply()).code);
  t.same(after, [250, 250, 553, 554, 550, 250, 250, 553], 'the XCLIENT line after the refused DATA is refused as a command; still alice after it');
  await new Promise((r) => setTimeout(r, 300));
  t.same(await queuedAsBob(), [], 'nothing queued as bob');
});

t.test('pipelined in the same packet as AUTH (RFC 4954 §4): XCLIENT is refused, the rest reaches Postfix', async (t) => {
  const c = await RawSmtp.connect(s.proxy.submissionPort, {});
  t.teardown(() => c.quit());
  t.equal((await c.reply()).code, 220);
  await c.ehlo();
  t.equal((await c.startTls(s.ca)).code, 220);
  await c.ehlo();
  const ir = xoauth2Ir(alice.email, await s.idp.mintToken(alice.email));
  // The lines behind AUTH are read by smtp-server before the hand-over; they must pass the
  // command guard like any later byte, not go to Postfix as they are.
  await c.write(`AUTH XOAUTH2 ${ir}\r\nXCLIENT LOGIN=${bob.email}\r\nMAIL FROM:<${bob.email}>\r\nRCPT TO:<${bob.email}>\r\n`);
  const codes = [];
  for (let i = 0; i < 4; i++) codes.push((await c.reply(10_000)).code);
  t.same(codes, [235, 550, 250, 553], 'logged in, XCLIENT refused, MAIL ok, RCPT refused: still alice');
  t.same(await queuedAsBob(), [], 'nothing queued as bob');
});

t.test("the EHLO a client sees after login offers no XCLIENT, XFORWARD or CHUNKING; BDAT and STARTTLS are refused", async (t) => {
  const c = await loggedIn(t, alice);
  const e = await c.ehlo();
  t.equal(e.code, 250);
  t.ok(e.lines.includes('PIPELINING'), "Postfix's EHLO");
  t.notOk(e.lines.some((l) => /^(XCLIENT|XFORWARD|CHUNKING)\b/i.test(l)), 'hidden', { got: e.lines });
  t.notOk(e.raw.split('\n').slice(0, -1).some((l) => !l.startsWith('250-')), 'well-formed: only the last line is "250 "');
  t.equal((await c.command('STARTTLS')).code, 503, 'STARTTLS through the splice refused');
  t.equal((await c.command(`MAIL FROM:<${alice.email}>`)).code, 250);
  t.equal((await c.command(`RCPT TO:<${bob.email}>`)).code, 250);
  await c.write(`BDAT 19 LAST\r\nXCLIENT LOGIN=bob\r\nRSET\r\n`);
  t.equal((await c.reply()).code, 502, 'BDAT refused, its chunk dropped');
  t.equal((await c.reply()).code, 250, 'RSET after the chunk reached Postfix');
});

t.test('mail whose content has a line "XCLIENT LOGIN=bob" goes through unchanged, as alice', async (t) => {
  const c = await loggedIn(t, alice);
  const m = `m${randomBytes(8).toString('hex')}`;
  const body = `Hello\r\nXCLIENT LOGIN=${bob.email}\r\nXFORWARD ADDR=192.0.2.7\r\n..leading dot\r\nBDAT 5 LAST\r\n`;
  const raw = `From: <${alice.email}>\r\nTo: <${bob.email}>\r\nSubject: guard ${m}\r\nMessage-ID: <${m}@client.example.test>\r\n`
    + `Date: ${new Date().toUTCString()}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${body}`;
  t.equal((await c.command(`MAIL FROM:<${alice.email}>`)).code, 250);
  t.equal((await c.command(`RCPT TO:<${bob.email}>`)).code, 250);
  t.equal((await c.command('DATA')).code, 354);
  const queued = await c.command(`${raw.replace(/(^|\r\n)\./g, '$1..')}.`, 10_000);
  t.match(queued.raw, /^250 2\.0\.0 Ok: queued as /);
  const qid = /queued as ([0-9A-Za-z]+)/.exec(queued.raw)?.[1];
  const line = await eventually(async () => (await s.backend.postfixLog()).split('\n').find((l) => l.includes(`${qid}: client=`)), 5000, 'queue line');
  t.match(line, /sasl_method=XCLIENT, sasl_username=alice@example\.test(\s|$)/, 'queued as alice');
  t.equal((await c.command('NOOP')).code, 250, 'commands go on after the message');

  // Read back through the proxy's IMAP as bob.
  const src = await (await bobsInbox(t))(m, 10_000);
  t.ok(src.endsWith(raw), 'the message arrived byte for byte (Postfix only prepends headers)', { tail: src.slice(-400) });
});

t.test('a client that pipelines a whole message and half-closes: its FIN waits for the held bytes', async (t) => {
  const c = await loggedIn(t, alice);
  const m = `m${randomBytes(8).toString('hex')}`;
  // Not RFC 2920 (the content should wait for 354), but nothing may be lost: the content,
  // held until Postfix's 354, must reach Postfix before the client's FIN does.
  await c.write(`MAIL FROM:<${alice.email}>\r\nRCPT TO:<${bob.email}>\r\nDATA\r\nMessage-ID: <${m}@client.example.test>\r\n\r\nbody\r\n.\r\nQUIT\r\n`);
  c.socket.end();
  // Asserted on Postfix's side: a TLS half-close may end the client's reading early.
  const logged = await eventually(async () => (await s.backend.postfixLog()).includes(`message-id=<${m}@client.example.test>`), 5000, 'message in Postfix').catch(() => false);
  t.ok(logged, 'Postfix received the whole message');
});

// Large messages are read into reused buffers once they flow (net/client-reads.ts). A second
// message pipelined behind the first, before its 354, is held by the guard meanwhile: the
// buffers it sits in must not be read into until it has gone to Postfix. Both arrive byte for
// byte, over 587 (STARTTLS) and 465 (TLS from the first byte).
for (const implicitTls of [false, true]) {
  t.test(`two 3 MiB messages, the second pipelined before its 354 (${implicitTls ? '465' : '587'}): both arrive byte for byte`, async (t) => {
    const c = await loggedIn(t, alice, implicitTls);
    const tags = [0, 1].map(() => `m${randomBytes(8).toString('hex')}`);
    const raws = tags.map((m) => {
      const lines: string[] = [];
      for (let n = 0; n < 3 << 20; n += 78) lines.push(randomBytes(57).toString('base64'));
      return `From: <${alice.email}>\r\nTo: <${bob.email}>\r\nSubject: big ${m}\r\nMessage-ID: <${m}@client.example.test>\r\n`
        + `Date: ${new Date().toUTCString()}\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${lines.join('\r\n')}\r\n`;
    });
    t.equal((await c.command(`MAIL FROM:<${alice.email}>`)).code, 250);
    t.equal((await c.command(`RCPT TO:<${bob.email}>`)).code, 250);
    t.equal((await c.command('DATA')).code, 354);
    await c.write(`${raws[0]}.\r\nMAIL FROM:<${alice.email}>\r\nRCPT TO:<${bob.email}>\r\nDATA\r\n${raws[1]}.\r\n`);
    for (const code of [250, 250, 250, 354, 250]) t.equal((await c.reply(30_000)).code, code);
    const sourceBySubject = await bobsInbox(t);
    for (const [i, m] of tags.entries()) {
      const src = await sourceBySubject(m, 20_000);
      t.ok(src.endsWith(raws[i]!), `message ${i + 1} arrived byte for byte (Postfix only prepends headers)`, { length: src.length, expected: raws[i]!.length });
    }
  });
}
