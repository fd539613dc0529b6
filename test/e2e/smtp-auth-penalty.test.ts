// One SMTP client's wrong passwords must not slow or refuse anyone else's SMTP login. Dovecot
// holds every authentication from a remote IP with recent failures (auth penalty: 2 s, 4 s,
// 8 s, up to 15 s, per rip). Postfix asks Dovecot with the address it sees; in master mode
// that is the proxy's own, so three wrong passwords from one client held every SMTP login
// until Postfix gave up (454 after 10 s). The same with the xclient-mode account check (a
// master login to Dovecot) for a user without an account. Real proxy, Dovecot, Postfix, IdP,
// in every SMTP mode: master (the default), xclient, and PROXY v2 to Postfix.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { startBackendAndIdp } from '../harness/stack.js';
import { startProxy, type TestProxy } from '../harness/proxy.js';
import { RawSmtp, plainIr, xoauth2Ir } from '../harness/raw-smtp.js';
import { RawClient } from '../harness/raw-imap.js';

const { backend, idp } = await startBackendAndIdp(t, { backend: { xclient: true } });
const [alice, bob] = backend.users as [typeof backend.users[0], typeof backend.users[0]];

/** Comfortably above a login's own time (tens of ms), far below any Dovecot penalty after 3 failures (8 s). */
const PROMPT_MS = 3000;

const MODES = [
  { name: 'master (default)', net: '127.0.8', env: {} },
  { name: 'xclient', net: '127.0.9', env: { DMS_SUBMISSION_LOGIN: 'xclient' } },
  { name: 'PROXY v2 to Postfix', net: '127.0.10', env: { DMS_SUBMISSION_PROXY_PROTOCOL: '1', DMS_SUBMISSION_PORT: String(backend.submissionHaproxyPort) } },
] as const;

async function proxyWith(t: { teardown(fn: () => unknown): void }, env: Record<string, string>): Promise<{ p: TestProxy; ca: string }> {
  const p = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env });
  t.teardown(() => p.stop());
  return { p, ca: readFileSync(p.certs.caFile, 'utf8') };
}

/** One connection, one AUTH on 465; the final reply code and how long the AUTH took. */
async function smtpAuth(p: TestProxy, ca: string, from: string, command: string): Promise<{ code: number; ms: number }> {
  const c = await RawSmtp.connect(p.submissionsPort, { implicitTls: true, ca, localAddress: from });
  try {
    await c.reply();
    await c.ehlo();
    const started = Date.now();
    let r = await c.command(command, 40_000);
    if (r.code === 334) r = await c.command('', 40_000); // XOAUTH2's error challenge
    return { code: r.code, ms: Date.now() - started };
  } finally {
    c.close();
  }
}

const wrongPassword = (i: number): string => `AUTH PLAIN ${plainIr(alice.email, `wrong-${i}`)}`;
const goodPassword = (): string => `AUTH PLAIN ${plainIr(bob.email, bob.password)}`;
const goodToken = async (user: string): Promise<string> => `AUTH XOAUTH2 ${xoauth2Ir(user, await idp.mintToken(user))}`;

for (const mode of MODES) {
  t.test(`${mode.name}: three wrong passwords from one client, then another client's token and password log in promptly`, { timeout: 90_000 }, async (t) => {
    const { p, ca } = await proxyWith(t, mode.env);
    const wrong = await Promise.all([1, 2, 3].map((i) => smtpAuth(p, ca, `${mode.net}.1`, wrongPassword(i))));
    t.same(wrong.map((r) => r.code), [535, 535, 535], 'the wrong passwords are refused');

    const token = await smtpAuth(p, ca, `${mode.net}.2`, await goodToken(bob.email));
    t.equal(token.code, 235, 'a token login from another client succeeds');
    t.ok(token.ms < PROMPT_MS, `promptly (${token.ms} ms)`);
    const password = await smtpAuth(p, ca, `${mode.net}.3`, goodPassword());
    t.equal(password.code, 235, 'a password login from another client succeeds');
    t.ok(password.ms < PROMPT_MS, `promptly (${password.ms} ms)`);

    // The penalty is the guesser's: his next try is held by Dovecot (it still gets its real answer).
    const again = await smtpAuth(p, ca, `${mode.net}.1`, wrongPassword(4));
    t.equal(again.code, 535, 'the guesser\'s fourth wrong password is refused');
    t.ok(again.ms >= 4000, `after Dovecot's penalty on his own address (${again.ms} ms)`);
  });
}

for (const [name, env, net] of [['master (default)', {}, '127.0.11'], ['xclient', { DMS_SUBMISSION_LOGIN: 'xclient' }, '127.0.14']] as const) {
  t.test(`${name}: valid tokens for users DMS does not have do not hold another client's login`, { timeout: 90_000 }, async (t) => {
    // A refused master login (no such account) is an auth failure too: Postfix's would be
    // charged to the proxy's address, the xclient-mode account check's was.
    const { p, ca } = await proxyWith(t, env);
    const ghosts = [1, 2, 3].map((i) => `ghost${i}.${net.replace(/\./g, '-')}@example.test`);
    for (const g of ghosts) idp.addAccount({ email: g });
    // Each a different name: the account check caches a missing account for a while.
    const refused = await Promise.all(ghosts.map(async (g) => smtpAuth(p, ca, `${net}.1`, await goodToken(g))));
    t.same(refused.map((r) => r.code), [535, 535, 535], 'no DMS account: refused');

    const token = await smtpAuth(p, ca, `${net}.2`, await goodToken(alice.email));
    t.equal(token.code, 235, 'a token login (its account not checked yet) from another client succeeds');
    t.ok(token.ms < PROMPT_MS, `promptly (${token.ms} ms)`);
  });
}

t.test('a password or token from an address where the user is at mail_max_userip_connections still logs in to SMTP', { timeout: 60_000 }, async (t) => {
  // Checking a password or an account over IMAP from the client's address counts against
  // the user's IMAP sessions from that address; SMTP opens none and must not be refused.
  const { backend: limited } = await startBackendAndIdp(t, { backend: { xclient: true, mailMaxUserIpConnections: 1 } });
  const [, user] = limited.users as [typeof limited.users[0], typeof limited.users[0]];
  for (const [name, env, from, auth] of [
    ['master', {}, '127.0.12.1', () => `AUTH PLAIN ${plainIr(user.email, user.password)}`],
    ['master, token', {}, '127.0.12.3', () => goodToken(user.email)],
    ['xclient', { DMS_SUBMISSION_LOGIN: 'xclient' }, '127.0.12.2', () => goodToken(user.email)],
  ] as const) {
    const p = await startProxy({ backend: limited, userinfoUrl: idp.userinfoUrl, env });
    t.teardown(() => p.stop());
    const ca = readFileSync(p.certs.caFile, 'utf8');
    const imap = await RawClient.connect(p.imapsPort, { implicitTls: true, ca, localAddress: from });
    t.teardown(() => imap.close());
    await imap.line();
    t.match((await imap.command(`i1 LOGIN ${user.email} ${user.password}`)).tagged, /^i1 OK /, `${name}: the user's one allowed IMAP session from ${from}`);
    t.equal((await smtpAuth(p, ca, from, await auth())).code, 235, `${name}: SMTP from the same address logs in`);
    t.equal((await smtpAuth(p, ca, from, `AUTH PLAIN ${plainIr(user.email, 'wrong')}`)).code, 535, `${name}: a wrong password there is still refused`);
  }
});

t.test('master mode, ALLOW_CLIENT_MASTER_LOGIN=1: a client\'s own master login (separator or authzid) is checked, then Postfix acts as its target', async (t) => {
  const { p, ca } = await proxyWith(t, { ALLOW_CLIENT_MASTER_LOGIN: '1' });
  const m = backend.master;
  for (const [what, ir] of [['separator', plainIr(`${bob.email}*${m.user}`, m.password)], ['authzid', Buffer.from(`${bob.email}\0${m.user}\0${m.password}`).toString('base64')]] as const) {
    t.equal((await smtpAuth(p, ca, '127.0.13.1', `AUTH PLAIN ${ir}`)).code, 235, what);
  }
  t.equal((await smtpAuth(p, ca, '127.0.13.1', `AUTH PLAIN ${plainIr(`${bob.email}*${m.user}`, 'wrong')}`)).code, 535, 'a wrong master password is refused');
});
