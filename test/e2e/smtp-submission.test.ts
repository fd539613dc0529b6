// SMTP submission end to end: real clients (nodemailer, curl, a raw socket) → proxy (real
// TLS, 587 STARTTLS and 465 implicit) → real Postfix (DMS-like submission) → LMTP → Dovecot,
// read back through the proxy's IMAP with a token. Both backend login modes: master
// (AUTH PLAIN as the master user for the token's user) and xclient (XCLIENT ADDR PORT LOGIN).
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { deadPort } from '../harness/ports.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { ImapFlow } from 'imapflow';
import { startBackend, type Backend, type MailUser } from '../harness/backend.js';
import { startIdp } from '../harness/idp.js';
import { eventually, startProxy, type TestProxy } from '../harness/proxy.js';
import { RawSmtp, b64, decode334, oauthbearerIr, plainIr, xoauth2Ir, type SmtpReply } from '../harness/raw-smtp.js';

const backend = await startBackend();
t.teardown(() => backend.stop());
const idp = await startIdp();
t.teardown(() => idp.stop());
const proxy = await startProxy({ backend, userinfoUrl: idp.userinfoUrl });
t.teardown(() => proxy.stop());
// The xclient pair: Postfix trusts 127.0.0.0/8 for XCLIENT, the proxy logs in with it.
const xBackend = await startBackend({ xclient: true });
t.teardown(() => xBackend.stop());
const xProxy = await startProxy({ backend: xBackend, userinfoUrl: idp.userinfoUrl, env: { DMS_SUBMISSION_LOGIN: 'xclient' } });
t.teardown(() => xProxy.stop());

const ca = readFileSync(proxy.certs.caFile, 'utf8');
const [alice, bob] = backend.users as [MailUser, MailUser];
const BACKEND_SIZE_LIMIT = 10485760; // message_size_limit of the test Postfix
// Everything that must never show up in a log line; scanned by the last test.
const secrets: string[] = [alice.password, bob.password, backend.master.password, xBackend.master.password];
// Every proxy started here, so the last test scans all their logs.
const proxies: TestProxy[] = [proxy, xProxy];
// Postfix logs read before a backend is stopped (none is stopped before the end here).
const tmp = mkdtempSync(join(tmpdir(), 'omp-smtp-e2e-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

async function token(email: string): Promise<string> {
  const tok = await idp.mintToken(email);
  secrets.push(tok);
  return tok;
}

function garbage(what: string): string {
  const g = `${what}-${randomBytes(12).toString('hex')}`;
  secrets.push(g);
  return g;
}

/** Text with every secret replaced, for assertion messages and diagnostics. */
function redact(s: string): string {
  let out = s;
  for (const x of secrets) if (x) out = out.split(x).join('<secret>');
  return out;
}

const marker = (): string => `m${randomBytes(8).toString('hex')}`;

interface Message { headers: string; body: Buffer; raw: Buffer; marker: string }

/** A message with a unique Subject/Message-ID marker and a body that exercises dot-stuffing. */
function message(from: string, to: string, m = marker(), body?: Buffer): Message {
  const headers = [
    `From: <${from}>`,
    `To: <${to}>`,
    `Subject: e2e ${m}`,
    `Message-ID: <${m}@client.example.test>`,
    `Date: ${new Date().toUTCString()}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
  ].join('\r\n');
  const b = body ?? Buffer.from([
    `Hello ${m}`,
    '.a line starting with a dot (dot-stuffed on the wire)',
    '..two dots',
    '.',
    ' . ',
    'trailing spaces   ',
    'x'.repeat(990),
    '',
  ].join('\r\n'), 'latin1');
  return { headers, body: b, raw: Buffer.concat([Buffer.from(`${headers}\r\n`, 'latin1'), b]), marker: m };
}

/** Dot-stuffs a message and adds the end-of-data line (RFC 5321 §4.5.2). */
function dataBlock(raw: Buffer): Buffer {
  const text = raw.toString('latin1').replace(/(^|\r\n)\./g, '$1..');
  const ends = text.endsWith('\r\n') ? '' : '\r\n';
  return Buffer.from(`${text}${ends}.\r\n`, 'latin1');
}

function imapClient(p: TestProxy, user: string, accessToken: string): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port: p.imapsPort,
    secure: true,
    tls: { ca: readFileSync(p.certs.caFile, 'utf8'), servername: 'localhost' },
    auth: { user, accessToken },
    logger: false,
    disableAutoIdle: true,
    clientInfo: { name: 'tap', version: '1' },
  });
}

/**
 * Sources of the messages in `user`'s INBOX whose Subject carries `m`, read through the
 * proxy's IMAP with a token. With `wantAtLeast` > 0 polls (bounded) until that many exist.
 */
async function mailboxMessages(user: MailUser, m: string, opts: { p?: TestProxy; wantAtLeast?: number; timeoutMs?: number } = {}): Promise<Buffer[]> {
  const client = imapClient(opts.p ?? proxy, user.email, await token(user.email));
  await client.connect();
  try {
    const lock = await client.getMailboxLock('INBOX');
    try {
      const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
      for (;;) {
        await client.noop();
        const uids = (await client.search({ subject: m }, { uid: true })) || [];
        if (uids.length >= (opts.wantAtLeast ?? 0) || Date.now() > deadline) {
          const out: Buffer[] = [];
          for (const uid of uids) {
            const msg = await client.fetchOne(String(uid), { source: true }, { uid: true });
            if (msg && msg.source) out.push(msg.source);
          }
          return out;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      lock.release();
    }
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/** Waits (bounded) for exactly one delivered copy and checks it byte for byte. */
async function checkDelivered(t: Test, user: MailUser, msg: Message, p: TestProxy = proxy): Promise<void> {
  const found = await mailboxMessages(user, msg.marker, { p, wantAtLeast: 1 });
  t.equal(found.length, 1, `one copy of ${msg.marker} delivered to ${user.email}`);
  const src = found[0];
  if (!src) return;
  const sep = Buffer.from('\r\n\r\n', 'latin1');
  const headerEnd = src.indexOf(sep);
  t.ok(headerEnd > 0, 'fetched message has a header section');
  const fetchedBody = src.subarray(headerEnd + sep.length);
  t.ok(fetchedBody.equals(msg.body), 'body is byte for byte the one sent', {
    diagnostic: !fetchedBody.equals(msg.body),
    sentTail: msg.body.subarray(-120).toString('latin1'),
    gotTail: fetchedBody.subarray(-120).toString('latin1'),
  });
  t.ok(src.subarray(0, headerEnd + 2).toString('latin1').endsWith(msg.headers), 'the sent headers arrive unchanged (Postfix/LMTP only prepend)');
  t.ok(src.subarray(src.length - msg.raw.length).equals(msg.raw), 'the whole sent message is the tail of the stored one');
}

function transport(opts: {
  p?: TestProxy; implicitTls: boolean; auth: { type: 'OAuth2'; user: string; accessToken: string } | { user: string; pass: string };
  authMethod?: string; localAddress?: string;
}) {
  const p = opts.p ?? proxy;
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: opts.implicitTls ? p.submissionsPort : p.submissionPort,
    secure: opts.implicitTls,
    requireTLS: !opts.implicitTls,
    tls: { ca: readFileSync(p.certs.caFile, 'utf8'), servername: 'localhost' },
    auth: opts.auth,
    ...(opts.authMethod ? { authMethod: opts.authMethod } : {}),
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    name: 'client.example.test',
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 20_000,
    logger: false,
  });
}

/** The error a promise rejects with, or null if it resolves. */
async function failure(pr: Promise<unknown>): Promise<(Error & { responseCode?: number; response?: string; code?: string }) | null> {
  return pr.then(() => null, (e: unknown) => e as Error & { responseCode?: number; response?: string; code?: string });
}

/** Queue id from Postfix's "250 2.0.0 Ok: queued as XXXX". */
function queueId(response: string): string | undefined {
  return /queued as ([0-9A-Za-z]+)/.exec(response)?.[1];
}

/** A raw session: greeting read, TLS up (implicit or STARTTLS), EHLO done. */
async function rawSession(t: Test, opts: { p?: TestProxy; implicitTls?: boolean; localAddress?: string } = {}): Promise<{ c: RawSmtp; ehlo: SmtpReply }> {
  const p = opts.p ?? proxy;
  const pca = readFileSync(p.certs.caFile, 'utf8');
  const implicitTls = opts.implicitTls ?? true;
  const c = await RawSmtp.connect(implicitTls ? p.submissionsPort : p.submissionPort, {
    implicitTls, ca: pca, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  });
  t.teardown(() => c.quit());
  track(c);
  const greeting = await c.reply();
  t.equal(greeting.code, 220, 'greeting');
  if (!implicitTls) {
    const e = await c.ehlo();
    t.equal(e.code, 250);
    t.equal((await c.startTls(pca)).code, 220, 'STARTTLS accepted');
  }
  const ehlo = await c.ehlo();
  t.equal(ehlo.code, 250, 'EHLO over TLS');
  return { c, ehlo };
}

/** A raw session logged in with XOAUTH2 (SASL-IR) as `user`. */
async function rawLoggedIn(t: Test, user: MailUser, opts: { p?: TestProxy; implicitTls?: boolean; localAddress?: string } = {}): Promise<RawSmtp> {
  const { c } = await rawSession(t, opts);
  const r = await c.command(`AUTH XOAUTH2 ${xoauth2Ir(user.email, await token(user.email))}`, 10_000);
  t.equal(r.code, 235, `AUTH XOAUTH2 as ${user.email} accepted`, { got: redact(r.raw) });
  return c;
}

/** A session straight to the backend's Postfix, logged in as `user` through the master account. */
async function directBackendSession(t: Test, b: Backend, user: MailUser): Promise<RawSmtp> {
  const bca = readFileSync(b.caFile, 'utf8');
  const c = await RawSmtp.connect(b.submissionPort);
  t.teardown(() => c.quit());
  await c.reply();
  await c.ehlo();
  await c.startTls(bca);
  await c.ehlo();
  const r = await c.command(`AUTH PLAIN ${b64(`${user.email}\0${b.master.user}\0${b.master.password}`)}`);
  t.equal(r.code, 235, 'direct master login to Postfix');
  return c;
}

// Raw clients still open. Clients end with QUIT, and an extra proxy's teardown ends them
// before stopping it, so run time does not depend on how the proxy treats clients that just
// drop the connection (tested on its own, near the end).
const openClients = new Set<RawSmtp>();
function track(c: RawSmtp): RawSmtp {
  openClients.add(c);
  void c.closedPromise.then(() => openClients.delete(c));
  return c;
}

/** A further proxy for one test, stopped at the end of it; its logs join the final scan. */
async function extraProxy(t: Test, opts: Parameters<typeof startProxy>[0]): Promise<TestProxy> {
  const p = await startProxy(opts);
  proxies.push(p);
  t.teardown(async () => {
    await Promise.all([...openClients].map((c) => c.quit()));
    await p.stop();
  });
  return p;
}

function curl(args: string[], timeoutMs = 20_000): Promise<{ code: number | string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile('curl', args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? ((err as NodeJS.ErrnoException & { code?: number | string }).code ?? 'error') : 0;
      resolve({ code: code as number | string, stdout: redact(String(stdout)), stderr: redact(String(stderr)) });
    });
    child.stdin?.end();
  });
}

// ---------------------------------------------------------------------------------------

t.test('backend baseline (no proxy): Postfix submission behaves as these tests assume', async (t) => {
  const c = await directBackendSession(t, backend, alice);
  t.equal((await c.command('MAIL FROM:<bob@example.test>')).code, 250, 'sender check is delayed to RCPT (smtpd_delay_reject)');
  const spoof = await c.command(`RCPT TO:<${bob.email}>`);
  t.equal(spoof.code, 553, 'reject_sender_login_mismatch for the master-logged-in user');
  t.match(spoof.text, /^5\.7\.1 .*not owned by user alice@example\.test/);
  t.equal((await c.command('RSET')).code, 250);
  t.equal((await c.command('MAIL FROM:<alice@example.test> SIZE=20000000')).code, 552);
  const plain = await RawSmtp.connect(backend.submissionPort);
  t.teardown(() => plain.close());
  await plain.reply();
  const ehlo = await plain.ehlo();
  t.ok(ehlo.lines.includes(`SIZE ${BACKEND_SIZE_LIMIT}`), 'backend SIZE');
});

t.test('XOAUTH2 with nodemailer on 587 (STARTTLS): delivered, body byte for byte', async (t) => {
  const tr = transport({ implicitTls: false, auth: { type: 'OAuth2', user: alice.email, accessToken: await token(alice.email) } });
  t.teardown(() => tr.close());
  const msg = message(alice.email, bob.email);
  const info = await tr.sendMail({ envelope: { from: alice.email, to: [bob.email] }, raw: msg.raw });
  t.match(info.response, /^250 2\.0\.0 Ok: queued as /, "Postfix's own DATA reply");
  t.same(info.accepted, [bob.email]);
  await checkDelivered(t, bob, msg);
});

t.test('XOAUTH2 with nodemailer on 465 (implicit TLS): delivered, body byte for byte', async (t) => {
  const tr = transport({ implicitTls: true, auth: { type: 'OAuth2', user: bob.email, accessToken: await token(bob.email) } });
  t.teardown(() => tr.close());
  const msg = message(bob.email, alice.email);
  const info = await tr.sendMail({ envelope: { from: bob.email, to: [alice.email] }, raw: msg.raw });
  t.match(info.response, /^250 2\.0\.0 Ok: queued as /);
  await checkDelivered(t, alice, msg);
});

t.test('OAUTHBEARER with curl on 587 (STARTTLS) and 465 (smtps): delivered', async (t) => {
  for (const [scheme, port] of [['smtp', proxy.submissionPort], ['smtps', proxy.submissionsPort]] as const) {
    const msg = message(alice.email, bob.email);
    const file = join(tmp, `${msg.marker}.eml`);
    writeFileSync(file, msg.raw);
    const r = await curl([
      '-sS', '--ssl-reqd', '--cacert', proxy.certs.caFile, '--url', `${scheme}://127.0.0.1:${port}`,
      '--login-options', 'AUTH=OAUTHBEARER', '--user', alice.email, '--oauth2-bearer', await token(alice.email),
      '--mail-from', alice.email, '--mail-rcpt', bob.email, '--upload-file', file,
      '--connect-timeout', '5', '--max-time', '20',
    ]);
    t.equal(r.code, 0, `${scheme}: curl succeeded`, { stderr: r.stderr });
    if (r.code === 0) await checkDelivered(t, bob, msg);
  }
});

t.test('continuation round trip (no SASL-IR): AUTH OAUTHBEARER, 334, response, 235', async (t) => {
  const { c } = await rawSession(t, { implicitTls: false });
  const first = await c.command('AUTH OAUTHBEARER');
  t.equal(first.code, 334, 'empty challenge');
  t.equal(first.text.trim(), '', 'no challenge data');
  const r = await c.command(oauthbearerIr(alice.email, await token(alice.email)), 10_000);
  t.equal(r.code, 235, 'logged in', { got: redact(r.raw) });
  t.equal((await c.command(`MAIL FROM:<${alice.email}>`)).code, 250, 'Postfix answers MAIL');
  t.equal((await c.command('QUIT')).code, 221);
});

t.test('passwords pass through: PLAIN and LOGIN with nodemailer; a wrong password gets 535', async (t) => {
  for (const authMethod of ['PLAIN', 'LOGIN']) {
    const tr = transport({ implicitTls: false, auth: { user: alice.email, pass: alice.password }, authMethod });
    t.teardown(() => tr.close());
    const msg = message(alice.email, bob.email);
    const info = await tr.sendMail({ envelope: { from: alice.email, to: [bob.email] }, raw: msg.raw });
    t.match(info.response, /^250 2\.0\.0 Ok: queued as /, `${authMethod}: queued`);
    await checkDelivered(t, bob, msg);
  }
  // Raw AUTH LOGIN: the RFC 4954 prompts, then the user's own login at the backend.
  const { c } = await rawSession(t);
  const u = await c.command('AUTH LOGIN');
  t.equal(u.code, 334);
  t.equal(u.text, 'VXNlcm5hbWU6', '"Username:"');
  const pw = await c.command(b64(bob.email));
  t.equal(pw.code, 334);
  t.equal(pw.text, 'UGFzc3dvcmQ6', '"Password:"');
  t.equal((await c.command(b64(bob.password), 10_000)).code, 235);

  const wrongPass = garbage('wrong-password');
  const tr = transport({ implicitTls: true, auth: { user: alice.email, pass: wrongPass }, authMethod: 'PLAIN' });
  t.teardown(() => tr.close());
  const err = await failure(tr.sendMail({ envelope: { from: alice.email, to: [bob.email] }, raw: message(alice.email, bob.email).raw }));
  t.equal(err?.responseCode, 535, 'wrong password: 535', { response: err?.response && redact(err.response) });
  t.match(err?.response ?? '', /^535 5\.7\.8/);
});

t.test('master mode: Postfix logs sasl_method=PLAIN, sasl_username=<token user> for a token login', async (t) => {
  const c = await rawLoggedIn(t, alice);
  const msg = message(alice.email, bob.email);
  await c.write(`MAIL FROM:<${alice.email}>\r\nRCPT TO:<${bob.email}>\r\nDATA\r\n`);
  t.same([(await c.reply()).code, (await c.reply()).code, (await c.reply()).code], [250, 250, 354]);
  await c.write(dataBlock(msg.raw));
  const done = await c.reply(10_000);
  t.equal(done.code, 250);
  const qid = queueId(done.text);
  t.ok(qid, 'queue id in the reply');
  const line = await eventually(async () => (await backend.postfixLog()).split('\n').find((l) => l.includes(`${qid}: client=`)), 5000, 'postfix queue line');
  t.match(line, /sasl_method=PLAIN, sasl_username=alice@example\.test(\s|$)/, 'the target user, not the master');
  t.notMatch(line, /sasl_username=master/);
  await checkDelivered(t, bob, msg);
});

t.test("xclient mode: token login delivers; Postfix logs XCLIENT, the user and the client's address", async (t) => {
  // The proxy dials Postfix from 127.0.0.1; the client comes from 127.0.0.2.
  const tr = transport({
    p: xProxy, implicitTls: false, localAddress: '127.0.0.2',
    auth: { type: 'OAuth2', user: alice.email, accessToken: await token(alice.email) },
  });
  t.teardown(() => tr.close());
  const msg = message(alice.email, bob.email);
  const info = await tr.sendMail({ envelope: { from: alice.email, to: [bob.email] }, raw: msg.raw });
  t.match(info.response, /^250 2\.0\.0 Ok: queued as /);
  const qid = queueId(info.response);
  t.ok(qid, 'queue id');
  const line = await eventually(async () => (await xBackend.postfixLog()).split('\n').find((l) => l.includes(`${qid}: client=`)), 5000, 'postfix queue line');
  t.match(line, /client=[^,\s]*\[127\.0\.0\.2\]/, "Postfix sees the client's address");
  t.match(line, /sasl_method=XCLIENT, sasl_username=alice@example\.test(\s|$)/);
  await checkDelivered(t, bob, msg, xProxy);

  // Raw, over 465: the same, and the spoof check still applies to the XCLIENT LOGIN user.
  const c = await rawLoggedIn(t, bob, { p: xProxy, implicitTls: true, localAddress: '127.0.0.2' });
  t.equal((await c.command(`MAIL FROM:<${alice.email}>`)).code, 250);
  const spoof = await c.command(`RCPT TO:<${bob.email}>`);
  t.equal(spoof.code, 553, 'reject_sender_login_mismatch applies to the XCLIENT user');
  t.match(spoof.text, /not owned by user bob@example\.test/);
});

t.test("spoofing: alice's token cannot send as bob (Postfix 553 5.7.1), nothing delivered", async (t) => {
  const c = await rawLoggedIn(t, alice);
  const msg = message(bob.email, bob.email);
  const mail = await c.command(`MAIL FROM:<${bob.email}>`);
  let rejected = mail;
  if (mail.code === 250) rejected = await c.command(`RCPT TO:<${bob.email}>`); // smtpd_delay_reject: refused at RCPT
  t.equal(rejected.code, 553, 'refused', { got: rejected.raw });
  t.match(rejected.text, /^5\.7\.1 <bob@example\.test>: Sender address rejected: not owned by user alice@example\.test/);
  const data = await c.command('DATA');
  t.equal(data.code, 554, 'DATA: no valid recipients');
  if (data.code === 354) await c.write(dataBlock(msg.raw)); // would be a bug; make it observable below
  const log = await eventually(async () => (await backend.postfixLog()).includes('Sender address rejected: not owned by user alice@example.test'), 5000, 'reject logged');
  t.ok(log, 'Postfix logged the rejection');
  await new Promise((r) => setTimeout(r, 500));
  t.same(await mailboxMessages(bob, msg.marker), [], 'nothing delivered to bob');
});

t.test("per-recipient replies are Postfix's own, in the same transaction", async (t) => {
  const rcpts = [`<${bob.email}>`, '<a b@example.test>', '<nosuchuser@example.test>', `<${alice.email}>`];
  const viaProxy = await rawLoggedIn(t, alice, { implicitTls: false });
  const direct = await directBackendSession(t, backend, alice);
  const replies = async (c: RawSmtp) => {
    const out: string[] = [(await c.command(`MAIL FROM:<${alice.email}>`)).raw];
    for (const r of rcpts) out.push((await c.command(`RCPT TO:${r}`)).raw);
    out.push((await c.command('RSET')).raw);
    return out;
  };
  const got = await replies(viaProxy);
  const want = await replies(direct);
  t.same(got, want, 'byte-identical to a direct Postfix session');
  t.match(got[1], /^250 2\.1\.5 /, 'bob accepted');
  t.match(got[2], /^501 5\.1\.3 Bad recipient address syntax/, 'a bad recipient refused by Postfix, per recipient');
  t.match(got[4], /^250 /, 'a later good recipient in the same transaction still accepted');
  // DMS sets smtpd_reject_unlisted_recipient=no on submission: an unknown local mailbox is
  // accepted at RCPT and bounced later (got[3] equals what Postfix itself says, checked above).
});

t.test('EHLO: before STARTTLS on 587 only STARTTLS and no AUTH; after TLS the backend features and our mechanisms', async (t) => {
  const c = await RawSmtp.connect(proxy.submissionPort);
  t.teardown(() => c.quit());
  t.equal((await c.reply()).code, 220);
  const plainEhlo = await c.ehlo();
  t.equal(plainEhlo.code, 250);
  t.ok(plainEhlo.lines.includes('STARTTLS'), 'STARTTLS advertised');
  const early = await c.command(`AUTH PLAIN ${plainIr(alice.email, alice.password)}`);
  t.ok(early.code === 530 || early.code === 538, `AUTH before TLS refused with 530/538 (got ${early.code})`);
  t.match(early.text, /^5\.7\.\d+ /);
  const earlyTok = await c.command(`AUTH XOAUTH2 ${xoauth2Ir(alice.email, await token(alice.email))}`);
  t.ok(earlyTok.code === 530 || earlyTok.code === 538, `token AUTH before TLS refused too (got ${earlyTok.code})`);
  t.equal((await c.startTls(ca)).code, 220);
  const e = await c.ehlo();
  t.equal(e.code, 250);
  const caps = e.lines.slice(1);
  for (const want of ['PIPELINING', `SIZE ${BACKEND_SIZE_LIMIT}`, '8BITMIME', 'SMTPUTF8', 'DSN', 'ENHANCEDSTATUSCODES']) {
    t.ok(caps.includes(want), `advertises ${want}`, { caps });
  }
  const auth = caps.find((l) => /^AUTH /i.test(l));
  t.ok(auth, 'advertises AUTH');
  const mechs = new Set((auth ?? '').split(' ').slice(1).map((m) => m.toUpperCase()));
  for (const m of ['OAUTHBEARER', 'XOAUTH2', 'PLAIN', 'LOGIN']) t.ok(mechs.has(m), `AUTH ${m}`, { auth });
  t.notOk(caps.includes('STARTTLS'), 'no STARTTLS after TLS (RFC 3207)');
  // Same set on 465.
  const { ehlo } = await rawSession(t, { implicitTls: true });
  t.ok(ehlo.lines.includes(`SIZE ${BACKEND_SIZE_LIMIT}`), '465: SIZE');
  t.ok(ehlo.lines.some((l) => /^AUTH .*OAUTHBEARER/i.test(l) && /XOAUTH2/i.test(l)), '465: AUTH with the token mechanisms');
});

t.test('refusal: XOAUTH2 garbage token → 334 {"status":"401"}, empty line → 535 5.7.8', async (t) => {
  const { c } = await rawSession(t);
  const ch = await c.command(`AUTH XOAUTH2 ${xoauth2Ir(alice.email, garbage('garbage-token'))}`);
  t.equal(ch.code, 334, 'error challenge');
  const json = JSON.parse(decode334(ch)) as Record<string, unknown>;
  t.equal(json.status, '401');
  const end = await c.command('');
  t.equal(end.code, 535);
  t.match(end.text, /^5\.7\.8 /);
  // The session goes on: a good token still works after a failure.
  t.equal((await c.command(`AUTH XOAUTH2 ${xoauth2Ir(alice.email, await token(alice.email))}`, 10_000)).code, 235, 'retry with a good token');
});

t.test('refusal: OAUTHBEARER garbage token → 334 {"status":"invalid_token"}, AQ== → 535 5.7.8', async (t) => {
  const { c } = await rawSession(t, { implicitTls: false });
  const ch = await c.command(`AUTH OAUTHBEARER ${oauthbearerIr(alice.email, garbage('garbage-token'))}`);
  t.equal(ch.code, 334, 'error challenge');
  const json = JSON.parse(decode334(ch)) as Record<string, unknown>;
  t.equal(json.status, 'invalid_token');
  const end = await c.command('AQ==');
  t.equal(end.code, 535);
  t.match(end.text, /^5\.7\.8 /);
});

t.test("refusal: alice's token presented for bob → 535, the backend sees no login", async (t) => {
  const tok = await token(alice.email);
  const before = (await backend.postfixLog()).length;
  for (const [mech, ir] of [['XOAUTH2', xoauth2Ir(bob.email, tok)], ['OAUTHBEARER', oauthbearerIr(bob.email, tok)]] as const) {
    const { c } = await rawSession(t);
    let r = await c.command(`AUTH ${mech} ${ir}`);
    if (r.code === 334) r = await c.command(''); // an error challenge first is fine
    t.equal(r.code, 535, `${mech}: 535`);
    t.match(r.text, /^5\.7\.8 /);
  }
  await new Promise((r) => setTimeout(r, 300));
  t.notMatch((await backend.postfixLog()).slice(before), /sasl_username=bob@example\.test/, 'no session as bob');
});

t.test('refusal: a line over the limit gets an error (or a close), a long token still fits, the proxy keeps serving', async (t) => {
  const { c } = await rawSession(t);
  // A 6 KiB token (base64 in base64, ~8 KiB line) is within SASL limits: the IdP refuses it, not the framer.
  const long = garbage(`long-${'t'.repeat(6000)}`);
  const ch = await c.command(`AUTH XOAUTH2 ${xoauth2Ir(alice.email, long)}`);
  t.equal(ch.code, 334, 'long token reaches validation (error challenge)');
  t.equal((await c.command('')).code, 535);
  await c.write(`NOOP ${'x'.repeat(40 * 1024)}\r\n`);
  let outcome = 'closed';
  try {
    const r = await c.reply(5000);
    outcome = `${r.code} ${r.text}`;
    if (r.code === 421) t.ok(await c.waitClosed(5000), `421 then close (${r.text})`);
    else t.ok(r.code >= 500 && r.code < 600, `5xx for a 40 KiB line (got ${r.code} ${r.text})`);
  } catch {
    t.ok(await c.waitClosed(5000), 'or the connection is closed');
  }
  t.comment(`40 KiB line: ${outcome}`);
  const { c: next } = await rawSession(t);
  t.equal((await next.command('NOOP')).code, 250, 'a new connection is served');
});

t.test('refusal: IdP down → 454 4.7.0, no challenge', async (t) => {
  const p = await extraProxy(t, { backend, userinfoUrl: `http://127.0.0.1:${await deadPort()}/userinfo` });
  const { c } = await rawSession(t, { p });
  const r = await c.command(`AUTH XOAUTH2 ${xoauth2Ir(alice.email, await token(alice.email))}`, 10_000);
  t.equal(r.code, 454, 'temporary failure, not "wrong credentials"', { got: redact(r.raw) });
  t.match(r.text, /^4\.7\.0 /);
  const ob = await c.command(`AUTH OAUTHBEARER ${oauthbearerIr(alice.email, await token(alice.email))}`, 10_000);
  t.equal(ob.code, 454, 'OAUTHBEARER too');
});

t.test('refusal: backend down → 454, the session and the proxy keep serving', async (t) => {
  const p = await extraProxy(t, { backend: { ...backend, submissionPort: 1 }, userinfoUrl: idp.userinfoUrl });
  const { c } = await rawSession(t, { p });
  const r = await c.command(`AUTH XOAUTH2 ${xoauth2Ir(alice.email, await token(alice.email))}`, 15_000);
  t.equal(r.code, 454, 'token login: 454', { got: redact(r.raw) });
  t.match(r.text, /^4\.7\.0 /);
  const pw = await c.command(`AUTH PLAIN ${plainIr(alice.email, alice.password)}`, 15_000);
  t.equal(pw.code, 454, 'password login: 454 too, not 535');
  t.equal((await c.command('NOOP')).code, 250, 'session still usable');
  const { c: next } = await rawSession(t, { p });
  t.equal((await next.command('NOOP')).code, 250, 'new connections are served');
});

t.test('message size: SIZE=20000000 → 552; an actual 11 MiB message → 552, nothing delivered', async (t) => {
  const c = await rawLoggedIn(t, alice);
  const big = await c.command(`MAIL FROM:<${alice.email}> SIZE=20000000`);
  t.equal(big.code, 552, 'declared size over the limit');
  t.match(big.text, /^5\.3\.4 /);
  t.equal((await c.command('RSET')).code, 250);
  t.equal((await c.command(`MAIL FROM:<${alice.email}>`)).code, 250);
  t.equal((await c.command(`RCPT TO:<${bob.email}>`)).code, 250);
  t.equal((await c.command('DATA')).code, 354);
  const lines = randomBytes(Math.ceil((11 * 1024 * 1024 * 3) / 4)).toString('base64').replace(/.{76}/g, '$&\r\n');
  const msg = message(alice.email, bob.email, marker(), Buffer.from(`${lines}\r\n`, 'latin1'));
  t.ok(msg.raw.length > 11 * 1024 * 1024, `message is ${msg.raw.length} bytes`);
  await c.write(dataBlock(msg.raw));
  let code = 0;
  let text = '';
  try {
    const r = await c.reply(30_000);
    code = r.code;
    text = r.text;
  } catch (e) {
    text = (e as Error).message;
  }
  t.ok(code === 552 || /5\.3\.4/.test(text), `refused: ${code} ${text}`);
  t.same(await mailboxMessages(bob, msg.marker, { timeoutMs: 0 }), [], 'nothing delivered to bob');
});

t.test('PIPELINING after AUTH: MAIL, RCPT, DATA in one write → 250, 250, 354; 8BITMIME/SMTPUTF8 body intact', async (t) => {
  const c = await rawLoggedIn(t, alice, { implicitTls: false });
  const m = marker();
  const body = Buffer.from(`Grüße, ${m} — ünïcödé 8-bit body\r\n.leading dot\r\n`, 'utf8');
  const msg = message(alice.email, bob.email, m, body);
  const utf8Msg = { ...msg, headers: msg.headers.replace('charset=us-ascii', 'charset=utf-8') };
  const raw = Buffer.concat([Buffer.from(`${utf8Msg.headers}\r\n`, 'latin1'), body]);
  await c.write(`MAIL FROM:<${alice.email}> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<${bob.email}>\r\nDATA\r\n`);
  const codes = [(await c.reply()).code, (await c.reply()).code, (await c.reply()).code];
  t.same(codes, [250, 250, 354], 'replies in order');
  await c.write(dataBlock(raw));
  t.equal((await c.reply(10_000)).code, 250, 'queued');
  // A second transaction with DSN parameters (RET, ENVID, NOTIFY, ORCPT), QUIT pipelined after it.
  const m2 = message(alice.email, bob.email);
  await c.write(`MAIL FROM:<${alice.email}> RET=HDRS ENVID=${m2.marker}\r\n`
    + `RCPT TO:<${bob.email}> NOTIFY=NEVER ORCPT=rfc822;${bob.email}\r\nDATA\r\n`);
  t.same([(await c.reply()).code, (await c.reply()).code, (await c.reply()).code], [250, 250, 354]);
  await c.write(Buffer.concat([dataBlock(m2.raw), Buffer.from('QUIT\r\n', 'latin1')]));
  t.equal((await c.reply(10_000)).code, 250);
  t.equal((await c.reply()).code, 221, 'QUIT pipelined after the end of data');
  await checkDelivered(t, bob, { ...utf8Msg, raw, body });
  await checkDelivered(t, bob, m2);
});

t.test('a valid token for a user DMS does not have: 535, never 235 (235 only once the backend accepted)', async (t) => {
  idp.addAccount({ email: 'nobody@example.test' });
  const tok = await token('nobody@example.test');
  const { c } = await rawSession(t);
  let r = await c.command(`AUTH XOAUTH2 ${xoauth2Ir('nobody@example.test', tok)}`, 10_000);
  if (r.code === 334) r = await c.command('');
  t.equal(r.code, 535, 'refused', { got: redact(r.raw) });
  t.match(r.text, /^5\.7\.8 /);
  t.not((await c.command('MAIL FROM:<nobody@example.test>')).code, 250, 'no mail transaction without a login');
});

t.test('xclient mode: a valid token for a user DMS does not have is refused as in master mode', async (t) => {
  idp.addAccount({ email: 'nobody@example.test' });
  const tok = await token('nobody@example.test');
  const { c } = await rawSession(t, { p: xProxy });
  let r = await c.command(`AUTH XOAUTH2 ${xoauth2Ir('nobody@example.test', tok)}`, 10_000);
  if (r.code === 334) r = await c.command('');
  t.equal(r.code, 535, 'refused', { got: redact(r.raw) });
  if (r.code === 235) t.equal((await c.command('RSET')).code, 250); // submit nothing
  t.ok(xProxy.logs().some((l) => l.event === 'auth-failed' && /no DMS account nobody@example\.test/.test(String(l.reason))), 'the log says why');
});

t.test('commands pipelined after STARTTLS are discarded (CVE-2011-0411 class)', async (t) => {
  const c = track(await RawSmtp.connect(proxy.submissionPort));
  t.teardown(() => c.quit());
  await c.reply();
  await c.ehlo();
  // Had the injected AUTH run inside TLS, its 235 (or any reply) would come before EHLO's.
  await c.write(`STARTTLS\r\nAUTH PLAIN ${plainIr(alice.email, alice.password)}\r\n`);
  t.equal((await c.reply()).code, 220, 'STARTTLS accepted');
  await c.upgradeTls(ca);
  const e = await c.ehlo();
  t.equal(e.code, 250, 'the first reply inside TLS is the EHLO reply');
  t.match(e.lines[0] ?? '', /^\S+/, 'EHLO greeting line');
  t.not((await c.command(`MAIL FROM:<${alice.email}>`)).code, 250, 'not logged in: the injected AUTH did not run');
});

t.test('sessions end: a client FIN before AUTH closes the session; stop() ends pre-auth and spliced sessions', async (t) => {
  // A short pre-auth time-out bounds this test even if sessions linger; the checks below
  // allow far less than it.
  const clients: Array<[string, RawSmtp]> = [];
  const p = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env: { PREAUTH_TIMEOUT_SECONDS: '10' } });
  t.teardown(async () => {
    for (const [, c] of clients) c.close();
    await p.stop();
  });
  proxies.push(p);
  const pca = readFileSync(p.certs.caFile, 'utf8');

  // The client half-closes (FIN) before logging in: the proxy must close its side too, as
  // the IMAP side does; nothing is spliced yet, so there is no backend to pass the FIN to.
  for (const implicitTls of [false, true]) {
    const c = implicitTls
      ? await RawSmtp.connect(p.submissionsPort, { implicitTls: true, ca: pca })
      : await RawSmtp.connect(p.submissionPort);
    clients.push([`half-closed ${implicitTls ? 465 : 587}`, c]);
    t.equal((await c.reply()).code, 220);
    t.equal((await c.ehlo()).code, 250);
    c.socket.end();
    t.ok(await c.waitClosed(2000), `${implicitTls ? 465 : 587}: the proxy closes a pre-auth session after the client's FIN`);
  }

  const pre587 = await RawSmtp.connect(p.submissionPort);
  clients.push(['pre-auth 587', pre587]);
  t.equal((await pre587.reply()).code, 220);
  const pre465 = await RawSmtp.connect(p.submissionsPort, { implicitTls: true, ca: pca });
  clients.push(['pre-auth 465', pre465]);
  t.equal((await pre465.reply()).code, 220);
  t.equal((await pre465.ehlo()).code, 250);
  const spliced = await RawSmtp.connect(p.submissionsPort, { implicitTls: true, ca: pca });
  clients.push(['spliced', spliced]);
  await spliced.reply();
  await spliced.ehlo();
  t.equal((await spliced.command(`AUTH XOAUTH2 ${xoauth2Ir(alice.email, await token(alice.email))}`, 10_000)).code, 235);
  const started = Date.now();
  const closedAfterMs = new Map<string, number>();
  for (const [name, c] of clients) void c.closedPromise.then(() => closedAfterMs.set(name, Date.now() - started));
  const stopped = await Promise.race([p.stop().then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 5000))]);
  t.ok(stopped, `stop() resolved within 5 s (${Date.now() - started} ms)`);
  for (const name of ['pre-auth 587', 'pre-auth 465', 'spliced']) {
    const c = clients.find(([n]) => n === name)![1];
    await c.waitClosed(1000);
    const after = closedAfterMs.get(name);
    t.ok(after !== undefined && after < 2000, `${name} session closed by the proxy on stop() (after ${after ?? 'never'} ms)`);
  }
});

t.test('no token or password in any proxy log, nor in the Postfix or Dovecot logs', async (t) => {
  await new Promise((r) => setTimeout(r, 300));
  const logs = [
    ...proxies.map((p) => p.rawLogs()),
    await backend.postfixLog(), await backend.dovecotLog(),
    await xBackend.postfixLog(), await xBackend.dovecotLog(),
  ].join('\n');
  t.ok(proxy.rawLogs().length > 0, 'the proxy logged something');
  let leaked = 0;
  for (const s of secrets) if (logs.includes(s)) leaked += 1;
  t.equal(leaked, 0, `no secret in any log (${secrets.length} checked)`);
});
