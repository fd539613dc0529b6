// SCIM provisioning end to end: a user created over SCIM lands in DMS's postfix-accounts.cf,
// the DMS-like backend imports it (as DMS's change detector does), mail sent to it via
// Postfix is delivered, and the user reads it through the proxy with a token. Deactivation
// over SCIM then refuses its logins at once, token and password alike, and ends the
// sessions the user already has open; so does deleting a user.
import t from 'tap';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { startBackend } from '../harness/backend.js';
import { startIdp } from '../harness/idp.js';
import { eventually, startProxy } from '../harness/proxy.js';
import { scimClient } from '../harness/scim-client.js';
import { RawClient, oauthbearer, xoauth2 } from '../harness/raw-imap.js';
import { RawSmtp } from '../harness/raw-smtp.js';
import { RawPop3 } from '../harness/raw-pop3.js';

const SCIM_TOKEN = randomBytes(24).toString('hex');
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const WAIT_MS = 10_000;

const backend = await startBackend();
t.teardown(() => backend.stop());
const idp = await startIdp();
t.teardown(() => idp.stop());
const dmsDir = mkdtempSync(join(tmpdir(), 'omp-dms-config-'));
t.teardown(() => rmSync(dmsDir, { recursive: true, force: true }));
const proxy = await startProxy({
  backend, userinfoUrl: idp.userinfoUrl,
  env: { LISTEN_SCIM: '127.0.0.1:0', SCIM_TOKEN, DMS_CONFIG_DIR: dmsDir, LISTEN_POP3S: '127.0.0.1:0', DMS_POP3_PORT: String(backend.pop3Port) },
});
t.teardown(() => proxy.stop());
const ca = readFileSync(proxy.certs.caFile, 'utf8');
const scimBase = `http://127.0.0.1:${proxy.server.port('scim')}/scim/v2`;
const accountsFile = join(dmsDir, 'postfix-accounts.cf');
const secrets: string[] = [SCIM_TOKEN, backend.master.password, ...backend.users.map((u) => u.password)];

const scim = scimClient(scimBase, SCIM_TOKEN, WAIT_MS);

async function token(email: string): Promise<string> {
  const tok = await idp.mintToken(email);
  secrets.push(tok);
  return tok;
}

async function tokenLogin(email: string): Promise<string> {
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  try {
    await c.line();
    c.write(`a1 AUTHENTICATE OAUTHBEARER ${oauthbearer(email, await token(email))}\r\n`);
    const first = await c.line();
    if (first.startsWith('+ ')) {
      c.write('AQ==\r\n');
      return (await c.until('a1')).tagged;
    }
    return first;
  } finally {
    c.close();
  }
}

const carol = 'carol@example.test';
let carolId = '';

t.test('a user created over SCIM receives mail via Postfix and reads it through the proxy with a token', async (t) => {
  const created = await scim('POST', '/Users', {
    schemas: [USER], userName: carol, active: true, displayName: 'Carol',
    emails: [{ value: carol, primary: true, type: 'work' }],
  });
  t.equal(created.status, 201);
  carolId = created.json.id as string;
  t.match(readFileSync(accountsFile, 'utf8'), /^carol@example\.test\|\{SHA512-CRYPT\}\$6\$/m);

  // DMS's change detector would do this within seconds; the harness does it on demand.
  t.same(await backend.syncDmsAccounts(accountsFile), [carol]);
  t.same(await backend.syncDmsAccounts(accountsFile), [], 'a second import adds nothing');

  const subject = `scim ${randomBytes(6).toString('hex')}`;
  const inbound = nodemailer.createTransport({
    host: backend.host, port: backend.smtpPort, secure: false, ignoreTLS: true,
    connectionTimeout: WAIT_MS, greetingTimeout: WAIT_MS, socketTimeout: WAIT_MS,
  });
  const info = await inbound.sendMail({ from: 'someone@elsewhere.test', to: carol, subject, text: 'hello carol\n' });
  t.same(info.rejected, [], 'Postfix accepts mail for the provisioned account');

  idp.addAccount({ email: carol, name: 'Carol' });
  const client = new ImapFlow({
    host: '127.0.0.1', port: proxy.imapsPort, secure: true, tls: { ca, servername: 'localhost' },
    auth: { user: carol, accessToken: await token(carol) }, logger: false, disableAutoIdle: true,
  });
  await client.connect();
  t.teardown(() => client.close());
  await client.mailboxOpen('INBOX');
  const uid = await eventually(async () => {
    await client.noop();
    const uids = await client.search({ subject }, { uid: true });
    return uids && uids.length > 0 ? uids[0] : undefined;
  }, WAIT_MS, `"${subject}" in carol's INBOX`);
  const msg = await client.fetchOne(String(uid), { envelope: true, source: true }, { uid: true });
  t.equal(msg && msg.envelope?.subject, subject);
  t.match(msg && msg.source?.toString(), /hello carol/);
  await client.logout();
});

t.test('deactivated over SCIM: the token login is refused at once, with the reason in the log', async (t) => {
  t.match(await tokenLogin(carol), /^a1 OK /, 'active: logs in');
  const r = await scim('PATCH', `/Users/${carolId}`, { schemas: [PATCH], Operations: [{ op: 'replace', value: { active: false } }] });
  t.equal(r.status, 200);
  t.match(await tokenLogin(carol), /^a1 NO \[AUTHENTICATIONFAILED\]/);
  const line = proxy.logs().find((l) => l.event === 'auth-failed' && l.user === carol && /user disabled/.test(String(l.reason)));
  t.ok(line, 'auth-failed says the user is disabled');
  t.match(readFileSync(accountsFile, 'utf8'), /^carol@example\.test\|/m, 'the mailbox stays (default)');

  await scim('PATCH', `/Users/${carolId}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: 'True' }] });
  t.match(await tokenLogin(carol), /^a1 OK /, 'reactivated: logs in again');
});

t.test('deactivated over SCIM: open IMAP and SMTP sessions of the user end; other users keep theirs', async (t) => {
  const bob = backend.users[1]!;
  const imap = async (login: string): Promise<RawClient> => {
    const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
    t.teardown(() => c.close());
    await c.line();
    t.match((await c.command(login)).tagged, /^a1 OK/, 'logged in');
    t.match((await c.command('s1 SELECT INBOX')).tagged, /^s1 OK/);
    c.write('i1 IDLE\r\n');
    t.match(await c.line(), /^\+ /, 'in IDLE');
    return c;
  };
  const carolImap = await imap(`a1 AUTHENTICATE OAUTHBEARER ${oauthbearer(carol, await token(carol))}`);
  const bobImap = await imap(`a1 LOGIN ${bob.email} ${bob.password}`);
  const carolSmtp = await RawSmtp.connect(proxy.submissionsPort, { implicitTls: true, ca });
  t.teardown(() => carolSmtp.close());
  t.equal((await carolSmtp.reply()).code, 220);
  await carolSmtp.ehlo();
  t.equal((await carolSmtp.command(`AUTH OAUTHBEARER ${oauthbearer(carol, await token(carol))}`)).code, 235, 'SMTP logged in');
  t.equal((await carolSmtp.command(`MAIL FROM:<${carol}>`)).code, 250, 'a transaction open');

  const started = Date.now();
  const r = await scim('PATCH', `/Users/${carolId}`, { schemas: [PATCH], Operations: [{ op: 'replace', value: { active: false } }] });
  t.equal(r.status, 200);
  t.equal(await carolImap.lineAfterKeepalives(8000), '* BYE Account disabled.', "carol's IMAP session gets BYE");
  t.ok(await carolImap.waitClosed(8000), 'and is closed');
  // The open transaction is finished first: RSET ends it, then the 421 comes.
  t.equal((await carolSmtp.command('RSET')).code, 250, 'the transaction may still end');
  const bye = await carolSmtp.reply(8000);
  t.equal(bye.code, 421, "carol's SMTP session gets 421");
  t.match(bye.text, /Account disabled/);
  t.ok(await carolSmtp.waitClosed(8000), 'and is closed');
  t.ok(Date.now() - started < 8000, 'within the grace period');

  bobImap.write('DONE\r\n');
  t.match((await bobImap.until('i1')).tagged, /^i1 OK/, "bob's session goes on");
  t.match((await bobImap.command('n1 NOOP')).tagged, /^n1 OK/);

  const revoked = proxy.logs().filter((l) => l.event === 'sessions-revoked' && l.user === carol);
  t.same(revoked.map((l) => l.proto).sort(), ['imap', 'smtp'], 'one sessions-revoked line per protocol');
  await eventually(() => proxy.logs().filter((l) => l.event === 'session-end' && l.user === carol && l.end === 'revoked').length === 2, WAIT_MS, 'session-end lines say revoked');
  t.notOk(proxy.logs().some((l) => l.event === 'session-end' && l.user === bob.email && l.end === 'revoked'), 'nothing revoked for bob');

  await scim('PATCH', `/Users/${carolId}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: 'True' }] });
  t.match(await tokenLogin(carol), /^a1 OK /, 'reactivated: logs in again');
});

t.test('deleted over SCIM: the open IMAP session of the user ends', async (t) => {
  const dave = 'dave@example.test';
  const created = await scim('POST', '/Users', { schemas: [USER], userName: dave, active: true, emails: [{ value: dave, primary: true }] });
  t.equal(created.status, 201);
  t.same(await backend.syncDmsAccounts(accountsFile), [dave], 'imported into DMS');
  idp.addAccount({ email: dave, name: 'Dave' });
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  t.match((await c.command(`a1 AUTHENTICATE OAUTHBEARER ${oauthbearer(dave, await token(dave))}`)).tagged, /^a1 OK/, 'logged in');
  t.match((await c.command('s1 SELECT INBOX')).tagged, /^s1 OK/);
  c.write('i1 IDLE\r\n');
  t.match(await c.line(), /^\+ /, 'in IDLE');

  const r = await scim('DELETE', `/Users/${created.json.id}`);
  t.equal(r.status, 204);
  t.notMatch(readFileSync(accountsFile, 'utf8'), /^dave@example\.test\|/m, 'the account line the proxy wrote is gone');
  t.equal(await c.lineAfterKeepalives(8000), '* BYE Account disabled.', 'the IDLE session gets BYE');
  t.ok(await c.waitClosed(8000), 'and is closed');
  const line = proxy.logs().find((l) => l.event === 'sessions-revoked' && l.user === dave);
  t.match(line, { proto: 'imap', sessions: 1, reason: /deleted/ }, 'logged, with the reason');
});

t.test('deactivated over SCIM: the open POP3 session of the user gets -ERR and ends, without UPDATE', async (t) => {
  const erin = 'erin@example.test';
  const created = await scim('POST', '/Users', { schemas: [USER], userName: erin, active: true, emails: [{ value: erin, primary: true }] });
  t.equal(created.status, 201);
  t.same(await backend.syncDmsAccounts(accountsFile), [erin], 'imported into DMS');
  idp.addAccount({ email: erin, name: 'Erin' });
  const c = await RawPop3.connect(proxy.server.port('pop3s'), { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  t.match(await c.command(`AUTH XOAUTH2 ${xoauth2(erin, await token(erin))}`), /^\+OK /, 'logged in');
  t.match(await c.command('STAT'), /^\+OK /);
  const r = await scim('PATCH', `/Users/${created.json.id}`, { schemas: [PATCH], Operations: [{ op: 'replace', value: { active: false } }] });
  t.equal(r.status, 200);
  t.equal(await c.line(8000), '-ERR Account disabled.', 'the POP3 session is told');
  t.ok(await c.waitClosed(8000), 'and is closed');
  t.match(proxy.logs().find((l) => l.event === 'sessions-revoked' && l.user === erin), { proto: 'pop3', sessions: 1 });
});

t.test('a deactivated user\'s password login is refused too (IMAP LOGIN and SMTP AUTH)', async (t) => {
  const alice = backend.users[0]!;
  // As in DMS, her account has its line in postfix-accounts.cf: SCIM adopts it (and leaves it on delete).
  appendFileSync(accountsFile, `${alice.email}|{SHA512-CRYPT}$6$adopted$${'x'.repeat(86)}\n`);
  const created = await scim('POST', '/Users', { schemas: [USER], userName: alice.email, active: false });
  t.equal(created.status, 201);
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  t.match((await c.command(`b1 LOGIN ${alice.email} ${alice.password}`)).tagged, /^b1 NO \[AUTHENTICATIONFAILED\]/);
  const submit = nodemailer.createTransport({
    host: '127.0.0.1', port: proxy.submissionsPort, secure: true, tls: { ca, servername: 'localhost' },
    auth: { user: alice.email, pass: alice.password },
    connectionTimeout: WAIT_MS, greetingTimeout: WAIT_MS, socketTimeout: WAIT_MS,
  });
  const err: unknown = await submit.sendMail({ from: alice.email, to: alice.email, subject: 'x', text: 'x\n' }).then(() => undefined, (e: unknown) => e);
  t.match(err, { responseCode: 535 });
  await scim('DELETE', `/Users/${created.json.id}`);
  t.match((await c.command(`b2 LOGIN ${alice.email} ${alice.password}`)).tagged, /^b2 OK/, 'no longer managed: logs in');
});

t.test('no secret in any log line', async (t) => {
  const text = proxy.rawLogs();
  for (const s of secrets) t.notOk(text.includes(s), 'secret absent');
});
