// The self-service app-password portal (issue 19, "Done when"), in a real headless Chromium
// against the test IdP's login form: sign in, make an app password, read it off the page,
// use it over IMAP and SMTP through the proxy (mail delivered and read back), revoke it and
// see the next login fail; another user neither sees nor revokes it; CSRF, the Origin check,
// cookie flags and security headers; a user the policy refuses cannot sign in.
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import type { BrowserContext, Page, Response } from 'playwright-core';
import { launchBrowser } from '../harness/browser.js';
import { signIn, startPortalStack } from '../harness/portal.js';
import { RawClient } from '../harness/raw-imap.js';
import { AppPasswordFile } from '../../src/state/app-password-file.js';
import { watchDmsAccounts } from '../harness/dms-watcher.js';

const secret = randomBytes(16).toString('hex');
const SCIM_TOKEN = randomBytes(24).toString('hex');
const dmsDir = mkdtempSync(join(tmpdir(), 'o2mp-portal-dms-'));
t.teardown(() => rmSync(dmsDir, { recursive: true, force: true }));
const { backend, idp, proxy, url, appPasswordsFile, ca } = await startPortalStack(t, {
  clientSecret: secret,
  env: { OAUTH2_REQUIRED_GROUPS: 'mail-users', LISTEN_SCIM: '127.0.0.1:0', SCIM_TOKEN, DMS_CONFIG_DIR: dmsDir, PROVISION_ON_LOGIN: '1' },
});
// DMS's change detection, as in the provisioning tests: new lines of postfix-accounts.cf become accounts.
const watcher = watchDmsAccounts(backend, join(dmsDir, 'postfix-accounts.cf'));
t.teardown(() => watcher.stop());
idp.addAccount({ email: 'carol@example.test', name: 'Carol', groups: ['guests'] });
idp.addAccount({ email: 'dave@example.test', name: 'Dave', groups: ['mail-users'] });
const { browser, close } = await launchBrowser();
t.teardown(close);
const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
// PORTAL_SCREENSHOT=docs/portal.png refreshes the screenshot in the docs.
const shots = mkdtempSync(join(tmpdir(), 'o2mp-portal-shot-'));
t.teardown(() => rmSync(shots, { recursive: true, force: true }));
const secrets: string[] = [secret, SCIM_TOKEN];

const newContext = async (): Promise<BrowserContext> => {
  const c = await browser.newContext({ ignoreHTTPSErrors: true });
  c.setDefaultTimeout(10_000); // every wait bounded, well inside tap's
  t.teardown(() => c.close().catch(() => undefined));
  return c;
};
const listed = async (user: string) => {
  const store = await AppPasswordFile.open(appPasswordsFile);
  try { return await store.list(user); } finally { await store.close(); }
};
async function imapLogin(user: string, password: string): Promise<string> {
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  try {
    await c.line();
    const r = await c.command(`a LOGIN "${user}" "${password}"`, 15_000);
    if (/^a OK/.test(r.tagged)) await c.command('b LOGOUT');
    return r.tagged;
  } finally {
    c.close();
  }
}
async function create(page: Page, label: string): Promise<string> {
  await page.fill('input[name=label]', label);
  await Promise.all([page.waitForLoadState('load'), page.click('#create')]);
  const s = (await page.textContent('#secret'))!.trim();
  secrets.push(s);
  return s;
}

let alice: Page;
let aliceContext: BrowserContext;

t.test('alice signs in in the browser: cookie flags and security headers', async (t) => {
  aliceContext = await newContext();
  const callbacks: Response[] = [];
  aliceContext.on('response', (r) => { if (r.url().startsWith(`${url}/callback`)) callbacks.push(r); });
  alice = await signIn(aliceContext, url, ALICE);
  t.equal(await alice.textContent('#user'), ALICE, 'signed in as alice');
  t.equal(callbacks.length, 1, 'one callback');
  t.equal(callbacks[0]!.status(), 303);
  const setCookie = (await callbacks[0]!.headerValue('set-cookie')) ?? '';
  t.match(setCookie, /__Host-omp-session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Lax/, 'session cookie: HttpOnly; Secure; SameSite=Lax');
  const cookie = (await aliceContext.cookies(url)).find((c) => c.name === '__Host-omp-session');
  t.ok(cookie && cookie.httpOnly && cookie.secure && cookie.sameSite === 'Lax', 'the browser keeps it with those flags');
  const r = await alice.goto(`${url}/`);
  const h = r!.headers();
  t.match(h['content-security-policy'], /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'$/);
  t.equal(h['x-frame-options'], 'DENY');
  t.equal(h['referrer-policy'], 'no-referrer');
  t.equal(h['x-content-type-options'], 'nosniff');
  t.match(h['strict-transport-security'], /^max-age=\d{7,}/);
  t.equal(h['cache-control'], 'no-store');
});

t.test('alice makes an app password, reads it once, uses it over IMAP and SMTP, revokes it', async (t) => {
  const pw = await create(alice, 'Phone');
  t.match(pw, /^[a-z2-9]{4}(-[a-z2-9]{4}){4}$/, 'the secret is on the page');
  await alice.screenshot({ path: join(shots, 'portal.png'), fullPage: true });
  if (process.env.PORTAL_SCREENSHOT) copyFileSync(join(shots, 'portal.png'), process.env.PORTAL_SCREENSHOT);
  await alice.goto(`${url}/`);
  t.notOk((await alice.content()).includes(pw), 'never shown again');
  t.equal(await alice.textContent('tr[data-id] td.label'), 'Phone');

  const imap = new ImapFlow({ host: '127.0.0.1', port: proxy.imapsPort, secure: true, tls: { ca, servername: 'localhost' }, auth: { user: ALICE, pass: pw }, logger: false });
  await imap.connect();
  t.teardown(() => imap.logout().catch(() => undefined));
  const subject = `portal ${randomBytes(4).toString('hex')}`;
  const tr = nodemailer.createTransport({
    host: '127.0.0.1', port: proxy.submissionPort, secure: false, requireTLS: true, tls: { ca, servername: 'localhost' },
    auth: { user: ALICE, pass: pw }, logger: false, connectionTimeout: 5000, greetingTimeout: 5000, socketTimeout: 20_000,
  });
  t.teardown(() => tr.close());
  t.match((await tr.sendMail({ from: ALICE, to: ALICE, subject, text: 'sent with an app password from the portal' })).response, /^250 /, 'SMTP AUTH with it: accepted');
  let found = 0;
  for (const end = Date.now() + 15_000; !found && Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
    const lock = await imap.getMailboxLock('INBOX');
    try { found = ((await imap.search({ header: { subject } })) || []).length; } finally { lock.release(); }
  }
  t.equal(found, 1, 'delivered, and read over IMAP with the same app password');
  await imap.logout();

  await alice.goto(`${url}/`);
  t.match(await alice.textContent('tr[data-id]'), /127\.0\.0\.1 \((imap|smtp)\)/, 'last used: from where, over what');
  await Promise.all([alice.waitForURL(`${url}/`), alice.click('tr[data-id] button')]);
  t.equal(await alice.locator('tr[data-id]').count(), 0, 'gone from the page');
  t.match(await imapLogin(ALICE, pw), /^a NO \[AUTHENTICATIONFAILED\]/, 'the next login fails');
});

t.test('bob neither sees nor revokes alice\'s app passwords', async (t) => {
  await create(alice, 'Laptop Thunderbird');
  const [mine] = await listed(ALICE);
  const bob = await signIn(await newContext(), url, BOB);
  t.equal(await bob.textContent('#user'), BOB);
  const html = await bob.content();
  t.notOk(html.includes(mine!.id) || html.includes('Laptop Thunderbird'), 'not on bob\'s page');
  const csrf = await bob.getAttribute('input[name=csrf]', 'value');
  const r = await bob.request.post(`${url}/revoke`, { form: { csrf: csrf!, id: mine!.id }, maxRedirects: 0 });
  t.equal(r.status(), 404, 'bob\'s own session and CSRF token revoke nothing of alice\'s');
  t.same((await listed(ALICE)).map((x) => x.id), [mine!.id], 'alice still has it');
});

t.test('CSRF: a missing or wrong token, or a foreign Origin, is 403 and changes nothing', async (t) => {
  const before = (await listed(ALICE)).map((x) => x.id);
  const csrf = (await alice.getAttribute('input[name=csrf]', 'value'))!;
  const post = (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
    alice.request.post(`${url}${path}`, { form, headers, maxRedirects: 0 }).then((r) => r.status());
  t.equal(await post('/create', { label: 'no token' }), 403, 'create without a token');
  t.equal(await post('/create', { label: 'wrong', csrf: `${csrf.slice(0, -2)}xx` }), 403, 'create with a wrong token');
  t.equal(await post('/revoke', { id: before[0]!, csrf: 'x' }), 403, 'revoke with a wrong token');
  t.equal(await post('/logout', {}), 403, 'sign-out without a token');
  t.equal(await post('/create', { label: 'foreign', csrf }, { origin: 'https://evil.example' }), 403, 'a foreign Origin, even with the token');
  t.equal(await post('/create', { label: 'foreign', csrf }, { 'sec-fetch-site': 'cross-site' }), 403, 'Sec-Fetch-Site cross-site');
  t.same((await listed(ALICE)).map((x) => x.id), before, 'nothing changed');
  await alice.goto(`${url}/`);
  t.equal(await alice.textContent('#user'), ALICE, 'still signed in');
});

t.test('sign-out ends the session on the server', async (t) => {
  const cookie = (await aliceContext.cookies(url)).find((c) => c.name === '__Host-omp-session')!;
  await Promise.all([alice.waitForURL(`${url}/`), alice.click('#sign-out')]);
  t.ok(await alice.isVisible('#sign-in'), 'the sign-in page');
  const other = await newContext();
  await other.addCookies([{ ...cookie }]);
  const p = await other.newPage();
  await p.goto(`${url}/`);
  t.ok(await p.isVisible('#sign-in'), 'the old cookie opens nothing');
});

t.test('a user the policy refuses cannot sign in', async (t) => {
  const ctx = await newContext();
  const statuses: number[] = [];
  ctx.on('response', (r) => { if (r.url().startsWith(`${url}/callback`)) statuses.push(r.status()); });
  const page = await signIn(ctx, url, 'carol@example.test');
  t.same(statuses, [403], 'refused at the callback');
  t.match(await page.textContent('body'), /may not use mail/);
  t.notOk((await ctx.cookies(url)).some((c) => c.name === '__Host-omp-session'), 'no session cookie');
  t.ok(proxy.logs().some((l) => l.event === 'portal-signin-refused' && /policy/.test(String(l.reason))), 'logged with the policy reason');
});

t.test('a SCIM deactivation ends the user\'s portal session and refuses the next sign-in', async (t) => {
  const scim = async (method: string, path: string, body: unknown) => {
    const r = await fetch(`http://127.0.0.1:${proxy.server.port('scim')}/scim/v2${path}`, {
      method, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000),
      headers: { authorization: `Bearer ${SCIM_TOKEN}`, 'content-type': 'application/scim+json' },
    });
    return { status: r.status, json: (await r.json()) as { id: string } };
  };
  const made = await scim('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'dave@example.test', active: true, emails: [{ value: 'dave@example.test', primary: true }] });
  t.equal(made.status, 201);
  const ctx = await newContext();
  const dave = await signIn(ctx, url, 'dave@example.test');
  t.equal(await dave.textContent('#user'), 'dave@example.test', 'signed in while active');
  const off = await scim('PATCH', `/Users/${made.json.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] });
  t.equal(off.status, 200);
  await dave.goto(`${url}/`);
  t.ok(await dave.isVisible('#sign-in'), 'the session is gone');
  const statuses: number[] = [];
  ctx.on('response', (r) => { if (r.url().startsWith(`${url}/callback`)) statuses.push(r.status()); });
  // Still signed in at the IdP: straight back to the callback, no login form.
  await Promise.all([dave.waitForURL(`${url}/callback**`), dave.click('#sign-in')]);
  t.same(statuses, [403], 'a deactivated user cannot sign in');
  t.match(await dave.textContent('body'), /may not use mail/);
});

t.test('PROVISION_ON_LOGIN: a first sign-in here creates the DMS account; an app password made then opens its INBOX', async (t) => {
  idp.addAccount({ email: 'erin@example.test', name: 'Erin', groups: ['mail-users'] });
  t.match(await imapLogin('erin@example.test', 'no-such-account-yet'), /^a NO/, 'unknown to DMS before');
  const erin = await signIn(await newContext(), url, 'erin@example.test');
  t.equal(await erin.textContent('#user'), 'erin@example.test', 'signed in once DMS took the account up');
  t.ok(proxy.logs().some((l) => l.event === 'account-provisioned' && l.user === 'erin@example.test'), 'account-provisioned');
  const pw = await create(erin, 'Phone');
  const imap = new ImapFlow({ host: '127.0.0.1', port: proxy.imapsPort, secure: true, tls: { ca, servername: 'localhost' }, auth: { user: 'erin@example.test', pass: pw }, logger: false });
  await imap.connect();
  t.teardown(() => imap.logout().catch(() => undefined));
  const box = await imap.mailboxOpen('INBOX');
  t.equal(box.path, 'INBOX', 'a working INBOX');
});

t.test('no secret, code or token in any log line', async (t) => {
  const raw = proxy.rawLogs();
  for (const s of secrets) t.notOk(raw.includes(s), 'a secret in the log');
  t.notMatch(raw, /[?&]code=|access_token|id_token/, 'no code or token');
  t.match(readFileSync(appPasswordsFile, 'utf8'), /"hash": "scrypt\$/);
});
