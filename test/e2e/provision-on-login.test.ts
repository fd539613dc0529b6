// Accounts on first login (issue 19, PROVISION_ON_LOGIN=1): a token login of a user DMS has
// no account for writes the account line into DMS_CONFIG_DIR/postfix-accounts.cf; the
// DMS-like backend imports it as DMS's change detector does (test/harness/dms-watcher.ts,
// every 2 s), and the login completes once Dovecot accepts the master login. Off, the same
// login is refused as before; a user the policy refuses, or a password login, writes nothing;
// parallel first logins write one line; DMS never picking the line up is a temporary failure
// (IMAP NO [UNAVAILABLE], SMTP 454 4.7.0) within PROVISION_WAIT_MS.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { startBackend } from '../harness/backend.js';
import { watchDmsAccounts } from '../harness/dms-watcher.js';
import { startIdp } from '../harness/idp.js';
import { eventually, startProxy, type TestProxy } from '../harness/proxy.js';
import { RawClient, oauthbearer } from '../harness/raw-imap.js';

const WAIT_MS = 20_000;
const SHORT_WAIT_MS = 3000; // PROVISION_WAIT_MS of the proxy whose DMS never picks anything up

const backend = await startBackend();
t.teardown(() => backend.stop());
const idp = await startIdp();
t.teardown(() => idp.stop());
const tmp = (name: string) => {
  const d = mkdtempSync(join(tmpdir(), name));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
};
const dmsDir = tmp('omp-dms-config-');
const accountsFile = join(dmsDir, 'postfix-accounts.cf');
const watcher = watchDmsAccounts(backend, accountsFile);
t.teardown(() => watcher.stop());
const policy = { OAUTH2_ALLOWED_DOMAINS: 'example.test' };
const proxy = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env: { ...policy, PROVISION_ON_LOGIN: '1', DMS_CONFIG_DIR: dmsDir } });
t.teardown(() => proxy.stop());
// The same DMS directory, provisioning off (the default).
const proxyOff = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env: { ...policy, DMS_CONFIG_DIR: dmsDir } });
t.teardown(() => proxyOff.stop());
// A DMS whose change detection never runs: nothing imports this directory.
const deadDir = tmp('omp-dms-dead-');
const proxyDead = await startProxy({
  backend, userinfoUrl: idp.userinfoUrl, env: { ...policy, PROVISION_ON_LOGIN: '1', DMS_CONFIG_DIR: deadDir, PROVISION_WAIT_MS: String(SHORT_WAIT_MS) },
});
t.teardown(() => proxyDead.stop());
const ca = readFileSync(proxy.certs.caFile, 'utf8');
const caOf = (p: TestProxy) => readFileSync(p.certs.caFile, 'utf8'); // every test proxy has its own CA

const accountLines = (file = accountsFile, user?: string): string[] => {
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { /* not written yet */ }
  return text.split('\n').filter((l) => l && (!user || l.startsWith(`${user}|`)));
};

function newUser(name: string, domain = 'example.test'): string {
  const email = `${name}-${randomBytes(3).toString('hex')}@${domain}`;
  idp.addAccount({ email, name });
  return email;
}

/** One AUTHENTICATE OAUTHBEARER over implicit TLS; the tagged reply. */
async function tokenLogin(p: TestProxy, email: string): Promise<string> {
  const c = await RawClient.connect(p.imapsPort, { implicitTls: true, ca: caOf(p) });
  try {
    await c.line();
    c.write(`a1 AUTHENTICATE OAUTHBEARER ${oauthbearer(email, await idp.mintToken(email))}\r\n`);
    const first = await c.line(WAIT_MS);
    if (first.startsWith('+ ')) {
      c.write('AQ==\r\n');
      return (await c.until('a1', WAIT_MS)).tagged;
    }
    return first;
  } finally {
    c.close();
  }
}

function smtp(p: TestProxy, user: string, accessToken: string) {
  return nodemailer.createTransport({
    host: '127.0.0.1', port: p.submissionsPort, secure: true, tls: { ca: caOf(p), servername: 'localhost' },
    auth: { type: 'OAuth2', user, accessToken }, name: 'client.example.test',
    connectionTimeout: 5000, greetingTimeout: 5000, socketTimeout: WAIT_MS, logger: false,
  });
}

t.test('off (the default): a token login of a user unknown to DMS is refused as before, and nothing is written', async (t) => {
  const dave = newUser('dave');
  t.match(await tokenLogin(proxyOff, dave), /^a1 NO \[AUTHENTICATIONFAILED\]/);
  t.same(accountLines(accountsFile, dave), [], 'no account line');
});

t.test('on: the first token login of a user unknown to DMS ends in a working INBOX (SELECT, APPEND, FETCH)', async (t) => {
  const erin = newUser('erin');
  const client = new ImapFlow({
    host: '127.0.0.1', port: proxy.imapsPort, secure: true, tls: { ca, servername: 'localhost' },
    auth: { user: erin, accessToken: await idp.mintToken(erin) }, logger: false, disableAutoIdle: true,
  });
  const started = Date.now();
  await client.connect();
  t.teardown(() => client.close());
  const ready = proxy.logs().find((l) => l.event === 'account-ready' && l.user === erin);
  t.comment(`first login took ${Date.now() - started} ms; DMS took up the account after ${String(ready?.waitedMs)} ms (change detection every 2 s)`);
  t.match(accountLines(accountsFile, erin), [/^[^|]+\|\{SHA512-CRYPT\}\$6\$/], 'one account line with an unusable SHA512-CRYPT password');
  const box = await client.mailboxOpen('INBOX');
  t.equal(box.path, 'INBOX');
  const subject = `first ${randomBytes(4).toString('hex')}`;
  const appended = await client.append('INBOX', `From: ${erin}\r\nTo: ${erin}\r\nSubject: ${subject}\r\n\r\nhello\r\n`);
  t.ok(appended, 'APPEND OK');
  const msg = await client.fetchOne('*', { envelope: true, source: true });
  t.equal(msg && msg.envelope?.subject, subject, 'FETCH returns the appended message');
  await client.logout();
  t.match(await tokenLogin(proxy, erin), /^a1 OK /, 'the next login is an ordinary one');
  t.equal(accountLines(accountsFile, erin).length, 1, 'still one line');
});

t.test('on: the first login over SMTP creates the account; the mail is sent and delivered', async (t) => {
  const frank = newUser('frank');
  const tr = smtp(proxy, frank, await idp.mintToken(frank));
  t.teardown(() => tr.close());
  const subject = `smtp first ${randomBytes(4).toString('hex')}`;
  const info = await tr.sendMail({ from: frank, to: frank, subject, text: 'hello frank\n' });
  t.match(info.response, /^250 /, 'Postfix queued it');
  t.equal(accountLines(accountsFile, frank).length, 1, 'one account line');
  const client = new ImapFlow({
    host: '127.0.0.1', port: proxy.imapsPort, secure: true, tls: { ca, servername: 'localhost' },
    auth: { user: frank, accessToken: await idp.mintToken(frank) }, logger: false, disableAutoIdle: true,
  });
  await client.connect();
  t.teardown(() => client.close());
  await client.mailboxOpen('INBOX');
  await eventually(async () => {
    await client.noop();
    const uids = await client.search({ subject }, { uid: true });
    return uids && uids.length > 0;
  }, WAIT_MS, `"${subject}" in frank's INBOX`);
  t.pass('delivered to the new mailbox');
  await client.logout();
});

t.test('a user outside OAUTH2_ALLOWED_DOMAINS is refused and no account line appears', async (t) => {
  const mallory = newUser('mallory', 'elsewhere.test');
  t.match(await tokenLogin(proxy, mallory), /^a1 NO \[AUTHENTICATIONFAILED\]/);
  t.same(accountLines().filter((l) => l.includes('elsewhere.test')), [], 'nothing written for the refused user');
});

t.test('a password login never provisions', async (t) => {
  const gina = `gina-${randomBytes(3).toString('hex')}@example.test`;
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  t.match((await c.command(`a1 LOGIN "${gina}" "some-password"`, WAIT_MS)).tagged, /^a1 NO \[AUTHENTICATIONFAILED\]/);
  t.same(accountLines(accountsFile, gina), [], 'no account line');
});

t.test('two parallel first logins of one user write one account line, and both log in', async (t) => {
  const hank = newUser('hank');
  const [a, b] = await Promise.all([tokenLogin(proxy, hank), tokenLogin(proxy, hank)]);
  t.match(a, /^a1 OK /);
  t.match(b, /^a1 OK /);
  t.equal(accountLines(accountsFile, hank).length, 1, 'one line');
});

t.test('DMS never picks the account up: NO [UNAVAILABLE] (IMAP) and 454 4.7.0 (SMTP) within PROVISION_WAIT_MS', async (t) => {
  const ivy = newUser('ivy');
  let started = Date.now();
  t.match(await tokenLogin(proxyDead, ivy), /^a1 NO \[UNAVAILABLE\]/);
  const imapMs = Date.now() - started;
  t.ok(imapMs >= SHORT_WAIT_MS && imapMs < SHORT_WAIT_MS + 8000, `waited for the bound, not much longer (${imapMs} ms)`);
  t.equal(accountLines(join(deadDir, 'postfix-accounts.cf'), ivy).length, 1, 'the line was written');
  t.ok(proxyDead.logs().some((l) => l.event === 'provision-timeout' && l.user === ivy), 'a log line says DMS did not pick it up');

  // The line is there now, still not taken up: the next login waits again, and says "try later".
  const tr = smtp(proxyDead, ivy, await idp.mintToken(ivy));
  t.teardown(() => tr.close());
  started = Date.now();
  const err = await tr.sendMail({ from: ivy, to: ivy, subject: 'x', text: 'x\n' }).then(() => null, (e: unknown) => e as Error & { responseCode?: number; response?: string });
  t.equal(err?.responseCode, 454, 'SMTP: temporary failure');
  t.match(err?.response, /^454 4\.7\.0 /);
  const smtpMs = Date.now() - started;
  t.ok(smtpMs < SHORT_WAIT_MS + 8000, `within the bound (${smtpMs} ms)`);
  t.equal(accountLines(join(deadDir, 'postfix-accounts.cf'), ivy).length, 1, 'still one line');
});
