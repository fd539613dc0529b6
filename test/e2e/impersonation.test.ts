// No client acts as another user (issue 16, items 4 and 6), against real Dovecot, Postfix and
// oidc-provider. A userinfo email spelled with KELVIN SIGN does not open kate's mailbox. A
// password login through Dovecot's master-user paths (`user*master`, a PLAIN authzid other
// than the authcid, over IMAP LOGIN, AUTHENTICATE PLAIN/LOGIN and SMTP AUTH PLAIN/LOGIN) is
// refused by default; with ALLOW_CLIENT_MASTER_LOGIN=1 it works, and SCIM deactivation both
// refuses it and ends its open sessions, like the target user's own.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend } from '../harness/backend.js';
import { startIdp } from '../harness/idp.js';
import { startProxy, type TestProxy } from '../harness/proxy.js';
import { b64, RawClient } from '../harness/raw-imap.js';
import { RawSmtp } from '../harness/raw-smtp.js';

const KELVIN_KATE = '\u212Aate@example.test';
const KATE = 'kate@example.test';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const SCIM_TOKEN = randomBytes(24).toString('hex');
const WAIT_MS = 8000;

const backend = await startBackend();
t.teardown(() => backend.stop());
const kate = { email: KATE, password: randomBytes(12).toString('hex') };
await backend.addUser(kate.email, kate.password);
const [alice, bob] = backend.users as [typeof kate, typeof kate];
const master = backend.master;
const idp = await startIdp();
t.teardown(() => idp.stop());
idp.addAccount({ email: KELVIN_KATE, name: 'Not Kate' }); // another IdP user, whose email only folds to kate's
const secrets = [alice.password, bob.password, kate.password, master.password, SCIM_TOKEN];

async function proxyWith(env: Record<string, string>): Promise<{ p: TestProxy; scim: (method: string, path: string, body?: unknown) => Promise<{ status: number; json: Record<string, any> }> }> {
  const dir = mkdtempSync(join(tmpdir(), 'omp-dms-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const p = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env: { LISTEN_SCIM: '127.0.0.1:0', SCIM_TOKEN, DMS_CONFIG_DIR: dir, ...env } });
  t.teardown(() => p.stop());
  const base = `http://127.0.0.1:${p.server.port('scim')}/scim/v2`;
  const scim = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method, headers: { authorization: `Bearer ${SCIM_TOKEN}`, 'content-type': 'application/scim+json' },
      body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(WAIT_MS),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, any> };
  };
  return { p, scim };
}

const quoted = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

async function imap(p: TestProxy, t: Test): Promise<RawClient> {
  const c = await RawClient.connect(p.imapsPort, { implicitTls: true, ca: readFileSync(p.certs.caFile, 'utf8') });
  t.teardown(() => c.close());
  await c.line();
  return c;
}

/** The tagged reply to a login command, answering an error challenge or LOGIN prompts on the way. */
async function imapLogin(c: RawClient, first: string, continuations: string[] = []): Promise<string> {
  c.write(`${first}\r\n`);
  const tag = first.split(' ')[0]!;
  for (;;) {
    const l = await c.line(WAIT_MS);
    if (l.startsWith(`${tag} `)) return l;
    if (l.startsWith('+')) c.write(`${continuations.shift() ?? 'AQ=='}\r\n`);
  }
}

async function smtp(p: TestProxy, t: Test): Promise<RawSmtp> {
  const c = await RawSmtp.connect(p.submissionsPort, { implicitTls: true, ca: readFileSync(p.certs.caFile, 'utf8') });
  t.teardown(() => c.close());
  await c.reply();
  await c.ehlo();
  return c;
}

const plain = (authzid: string, authcid: string, password: string) => b64(`${authzid}\0${authcid}\0${password}`);
const asMaster = (user: string) => `${user}*${master.user}`;

const off = await proxyWith({});

t.test('a userinfo email with KELVIN SIGN does not log in as kate (IMAP and SMTP)', async (t) => {
  const token = await idp.mintToken(KELVIN_KATE);
  secrets.push(token);
  for (const authzid of ['', KATE, KELVIN_KATE]) {
    const ir = b64(`n,${authzid ? `a=${authzid}` : ''},\x01auth=Bearer ${token}\x01\x01`);
    t.match(await imapLogin(await imap(off.p, t), `a1 AUTHENTICATE OAUTHBEARER ${ir}`), /^a1 NO \[AUTHENTICATIONFAILED\]/, `IMAP, a=${JSON.stringify(authzid)}`);
    const s = await smtp(off.p, t);
    const r = await s.command(`AUTH OAUTHBEARER ${ir}`);
    const last = r.code === 334 ? await s.command('AQ==') : r;
    t.equal(last.code, 535, `SMTP, a=${JSON.stringify(authzid)}`);
  }
  t.ok(off.p.logs().some((l) => l.event === 'auth-failed' && /not a mailbox address/.test(String(l.reason))), 'the reason is logged');
  t.notOk(off.p.logs().some((l) => l.event === 'login' && l.user === KATE), 'no login as kate');
  t.match(await imapLogin(await imap(off.p, t), `a2 LOGIN ${KATE} ${quoted(kate.password)}`), /^a2 OK/, "control: kate's own password works");
});

t.test('AUTHENTICATE with a mechanism name that only Unicode folds to PLAIN is refused', async (t) => {
  // As an atom the parser refuses 8-bit bytes already; a quoted string (UTF-8) gets through to the command.
  t.match(await imapLogin(await imap(off.p, t), `a1 AUTHENTICATE "pla\u0131n" ${plain('', alice.email, alice.password)}`), /^a1 NO Unsupported/i);
});

t.test('default: master logins through the proxy are refused, for every form and protocol', async (t) => {
  const forms: Array<[string, string, string[]]> = [
    ['IMAP LOGIN user*master', `a1 LOGIN ${quoted(asMaster(bob.email))} ${quoted(master.password)}`, []],
    ['IMAP AUTHENTICATE PLAIN authzid', `a1 AUTHENTICATE PLAIN ${plain(bob.email, master.user, master.password)}`, []],
    ['IMAP AUTHENTICATE PLAIN user*master', `a1 AUTHENTICATE PLAIN ${plain('', asMaster(bob.email), master.password)}`, []],
    ['IMAP AUTHENTICATE LOGIN user*master', 'a1 AUTHENTICATE LOGIN', [b64(asMaster(bob.email)), b64(master.password)]],
    ['IMAP AUTHENTICATE PLAIN: a user acting as another', `a1 AUTHENTICATE PLAIN ${plain(bob.email, alice.email, alice.password)}`, []],
  ];
  for (const [what, cmd, cont] of forms) t.match(await imapLogin(await imap(off.p, t), cmd, cont), /^a1 NO \[AUTHENTICATIONFAILED\]/, what);
  const s1 = await smtp(off.p, t);
  t.equal((await s1.command(`AUTH PLAIN ${plain(bob.email, master.user, master.password)}`)).code, 535, 'SMTP AUTH PLAIN authzid');
  const s2 = await smtp(off.p, t);
  t.equal((await s2.command(`AUTH PLAIN ${plain('', asMaster(bob.email), master.password)}`)).code, 535, 'SMTP AUTH PLAIN user*master');
  const s3 = await smtp(off.p, t);
  t.equal((await s3.command(`AUTH LOGIN ${b64(asMaster(bob.email))}`)).code, 334);
  t.equal((await s3.command(b64(master.password))).code, 535, 'SMTP AUTH LOGIN user*master');
  t.ok(off.p.logs().some((l) => l.event === 'auth-failed' && /ALLOW_CLIENT_MASTER_LOGIN/.test(String(l.reason)) && l.user === bob.email), 'logged with the target user');
  t.match(await imapLogin(await imap(off.p, t), `a2 LOGIN ${bob.email} ${quoted(bob.password)}`), /^a2 OK/, 'control: bob\'s own password works');
});

t.test('default: a SCIM-deactivated user is not reachable through the master separator', async (t) => {
  t.equal((await off.scim('POST', '/Users', { schemas: [USER], userName: alice.email, active: false })).status, 201);
  t.match(await imapLogin(await imap(off.p, t), `a1 LOGIN ${alice.email} ${quoted(alice.password)}`), /^a1 NO \[AUTHENTICATIONFAILED\]/, 'own password');
  t.match(await imapLogin(await imap(off.p, t), `a1 LOGIN ${quoted(asMaster(alice.email))} ${quoted(master.password)}`), /^a1 NO \[AUTHENTICATIONFAILED\]/, 'master separator');
});

t.test('ALLOW_CLIENT_MASTER_LOGIN=1: master logins work; deactivation refuses them and ends their sessions', async (t) => {
  const on = await proxyWith({ ALLOW_CLIENT_MASTER_LOGIN: '1' });
  const created = await on.scim('POST', '/Users', { schemas: [USER], userName: bob.email, active: true });
  t.equal(created.status, 201);

  const sessions: RawClient[] = [];
  for (const [what, cmd] of [
    ['LOGIN user*master', `a1 LOGIN ${quoted(asMaster(bob.email))} ${quoted(master.password)}`],
    ['AUTHENTICATE PLAIN authzid', `a1 AUTHENTICATE PLAIN ${plain(bob.email, master.user, master.password)}`],
  ] as const) {
    const c = await imap(on.p, t);
    t.match(await imapLogin(c, cmd), /^a1 OK/, what);
    t.match((await c.command('s1 SELECT INBOX')).tagged, /^s1 OK/);
    c.write('i1 IDLE\r\n');
    t.match(await c.line(), /^\+ /, 'in IDLE');
    sessions.push(c);
  }
  const s = await smtp(on.p, t);
  t.equal((await s.command(`AUTH PLAIN ${plain(bob.email, master.user, master.password)}`)).code, 235, 'SMTP AUTH PLAIN authzid');
  t.ok(on.p.logs().some((l) => l.event === 'login' && l.user === bob.email && l.via === 'password'), 'logged as the target user');

  const r = await on.scim('PATCH', `/Users/${created.json.id}`, { schemas: [PATCH], Operations: [{ op: 'replace', value: { active: false } }] });
  t.equal(r.status, 200);
  for (const c of sessions) {
    t.equal(await c.lineAfterKeepalives(WAIT_MS), '* BYE Account disabled.', 'the master-login IMAP session gets BYE');
    t.ok(await c.waitClosed(WAIT_MS));
  }
  const bye = await s.reply(WAIT_MS);
  t.equal(bye.code, 421, 'the master-login SMTP session gets 421');
  t.match(await imapLogin(await imap(on.p, t), `a2 LOGIN ${quoted(asMaster(bob.email))} ${quoted(master.password)}`), /^a2 NO \[AUTHENTICATIONFAILED\]/, 'then refused: separator');
  t.match(await imapLogin(await imap(on.p, t), `a2 AUTHENTICATE PLAIN ${plain(bob.email, master.user, master.password)}`), /^a2 NO \[AUTHENTICATIONFAILED\]/, 'then refused: authzid');
  const s2 = await smtp(on.p, t);
  t.equal((await s2.command(`AUTH PLAIN ${plain(bob.email, master.user, master.password)}`)).code, 535, 'then refused: SMTP');
  await on.scim('DELETE', `/Users/${created.json.id}`);
  for (const text of [on.p.rawLogs(), off.p.rawLogs()]) for (const x of secrets) t.notOk(text.includes(x), 'no secret in the logs');
});
