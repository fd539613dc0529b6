// Backend faults (issue 7): DMS refuses the connection, never greets, greets and drops,
// rejects the master login, drops or resets during the login, drops a spliced session, is
// restarted under open sessions. Each case: the reply IMAP and SMTP clients must get, no
// crash, no unhandled rejection, no descriptor left open once the case's proxy is stopped.
import t, { type Test } from 'tap';
import { eventually, startProxy, type TestProxy } from '../harness/proxy.js';
import { fdCount, fdSummary, recordCrashes, settleFds } from './fakes/leaks.js';
import { startFakeBackend, type BackendBehaviour, type FakeBackend } from './fakes/backend.js';
import { imaps, imapTokenLogin, smtps, smtpTokenLogin } from './fakes/clients.js';
import { startBackendAndIdp } from '../harness/stack.js';

const crashes = recordCrashes();
t.teardown(() => crashes.dispose());
const { backend, idp } = await startBackendAndIdp(t);
const [alice] = backend.users as [typeof backend.users[0]];
const DMS_TIMEOUT_MS = 1500;

/** A proxy in front of a fake IMAP and a fake SMTP backend (no TLS to them). */
async function proxyOnFakes(imap: FakeBackend, smtp: FakeBackend): Promise<TestProxy> {
  return startProxy({
    backend: { ...backend, imapPort: imap.port, submissionPort: smtp.port },
    userinfoUrl: idp.userinfoUrl,
    env: { DMS_TLS: 'none', DMS_SUBMISSION_TLS: 'none', DMS_TIMEOUT_MS: String(DMS_TIMEOUT_MS) },
  });
}

interface CaseKit {
  /** Teardowns, run last-first before the descriptors are counted again. */
  stop: Array<() => Promise<void>>;
  /** A fresh token for alice, minted before the first count (the minting connection is the test's, not the proxy's). */
  token(): string;
}

/** Runs `body`, then checks nothing leaked once the proxy (and fakes) are stopped. */
async function leakChecked(t: Test, body: (kit: CaseKit) => Promise<void>): Promise<void> {
  const minted: string[] = [];
  for (let i = 0; i < 6; i++) minted.push(await idp.mintToken(alice.email));
  const fd0 = await settleFds(fdCount(), 500);
  const stack: CaseKit = {
    stop: [],
    token() {
      const tok = minted.pop();
      if (!tok) throw new Error('test bug: more tokens needed');
      return tok;
    },
  };
  try {
    await body(stack);
  } finally {
    for (const s of stack.stop.reverse()) await s();
  }
  const fd1 = await settleFds(fd0, DMS_TIMEOUT_MS + 2000);
  t.ok(fd1 <= fd0, `no descriptor leaked (${fd0} before, ${fd1} after; ${fdSummary()})`);
}

async function expectUnavailable(t: Test, p: TestProxy, what: string, token: () => string): Promise<void> {
  const c = await imaps(p);
  t.match(await imapTokenLogin(c, alice.email, token()), /^a1 NO \[UNAVAILABLE\]/, `IMAP: ${what} is a temporary failure`);
  t.match((await c.command('a2 NOOP')).tagged, /^a2 OK/, 'the IMAP session goes on');
  c.close();
  const s = await smtps(p);
  const r = await smtpTokenLogin(s, alice.email, token());
  t.equal(r.code, 454, `SMTP: ${what} is 454 (${r.text})`);
  t.equal((await s.command('NOOP')).code, 250, 'the SMTP session goes on');
  await s.quit();
  const events = p.logs().filter((l) => l.event === 'backend-unavailable');
  t.ok(events.length >= 2, 'backend-unavailable logged for both');
}

t.test('backend connection refused', async (t) => {
  await leakChecked(t, async ({ stop, token }) => {
    const p = await startProxy({ backend: { ...backend, imapPort: 1, submissionPort: 1 }, userinfoUrl: idp.userinfoUrl });
    stop.push(() => p.stop());
    await expectUnavailable(t, p, 'connection refused', token);
    t.match(String(p.logs().find((l) => l.event === 'backend-unavailable')?.reason), /ECONNREFUSED/);
  });
});

for (const [behaviour, what] of [
  ['never-greet', 'a greeting that never comes'],
  ['greet-then-drop', 'a backend that greets and drops'],
  ['drop-at-login', 'a disconnect during the login'],
  ['rst-at-login', 'a reset during the login'],
] as Array<[BackendBehaviour, string]>) {
  t.test(`backend: ${what}`, async (t) => {
    await leakChecked(t, async ({ stop, token }) => {
      const imap = await startFakeBackend('imap', behaviour);
      stop.push(() => imap.stop());
      const smtp = await startFakeBackend('smtp', behaviour);
      stop.push(() => smtp.stop());
      const p = await proxyOnFakes(imap, smtp);
      stop.push(() => p.stop());
      const started = Date.now();
      await expectUnavailable(t, p, what, token);
      if (behaviour === 'never-greet') t.ok(Date.now() - started >= 2 * DMS_TIMEOUT_MS - 100, 'each waited for DMS_TIMEOUT_MS');
      t.ok(imap.accepted >= 1 && smtp.accepted >= 1, 'the fakes were dialled');
      await eventually(() => imap.open === 0 && smtp.open <= 1, 3000, 'the proxy to close its backend connections');
    });
  });
}

// IMAP: Dovecot's AUTHENTICATIONFAILED to a master login is the master account's fault, not the
// client's (test/adversary/master-credentials-refused.test.ts): try later, an error line naming it.
// SMTP: the same for the account check's master login to Dovecot (454).
t.test('master login rejected (wrong master password): UNAVAILABLE / 454, the log says why', async (t) => {
  await leakChecked(t, async ({ stop, token }) => {
    const p = await startProxy({ backend: { ...backend, master: { user: backend.master.user, password: 'wrong-master-password' } }, userinfoUrl: idp.userinfoUrl });
    stop.push(() => p.stop());
    const c = await imaps(p);
    t.match(await imapTokenLogin(c, alice.email, token()), /^a1 NO \[UNAVAILABLE\]/);
    c.close();
    const s = await smtps(p);
    t.equal((await smtpTokenLogin(s, alice.email, token())).code, 454);
    await s.quit();
    const masterRefused = p.logs().filter((l) => l.event === 'backend-unavailable').map((l) => String(l.reason));
    t.ok(masterRefused.length === 2 && masterRefused.every((r) => /Dovecot refused the master account \(DMS_MASTER_USER\/DMS_MASTER_PASSWORD/.test(r)), `logged: ${masterRefused.join(' | ')}`);
    t.same(p.logs().filter((l) => l.event === 'auth-failed').map((l) => l.reason), [], 'nothing counted against the client');
    t.notOk(p.rawLogs().includes('wrong-master-password'), 'the master password is not logged');
  });
});

for (const how of ['fin', 'rst'] as const) {
  t.test(`backend drops spliced sessions (${how.toUpperCase()}): the client sees the close, the proxy logs it`, async (t) => {
    await leakChecked(t, async ({ stop, token }) => {
      const imap = await startFakeBackend('imap', 'serve');
      stop.push(() => imap.stop());
      const smtp = await startFakeBackend('smtp', 'serve');
      stop.push(() => smtp.stop());
      const p = await proxyOnFakes(imap, smtp);
      stop.push(() => p.stop());
      const c = await imaps(p);
      t.match(await imapTokenLogin(c, alice.email, token()), /^a1 OK \[CAPABILITY [^\]]*MOVE/, 'logged in, backend capabilities');
      t.match((await c.command('a2 SELECT INBOX')).tagged, /^a2 OK SELECT completed \(fake\)/, 'spliced to the fake');
      const s = await smtps(p);
      t.equal((await smtpTokenLogin(s, alice.email, token())).code, 235);
      t.equal((await s.command('RSET')).code, 250);
      await eventually(() => imap.loggedIn === 1 && smtp.loggedIn === 1, 2000, 'both logged in at the fakes');
      imap.dropAll(how);
      smtp.dropAll(how);
      await Promise.race([Promise.all([c.closedPromise, s.closedPromise]), new Promise((r) => setTimeout(r, 3000))]);
      t.ok(c.closed, 'the IMAP client sees the connection close');
      t.ok(s.closed, 'the SMTP client sees the connection close');
      const ends = await eventually(() => {
        const e = p.logs().filter((l) => l.event === 'session-end' && l.user === alice.email);
        return e.length >= 2 ? e : null;
      }, 3000, 'two session-end lines');
      const expected = how === 'fin' ? /^backend-closed$/ : /^backend-(closed|error)$/;
      for (const e of ends ?? []) t.match(String(e.end), expected, `session-end end=${String(e.end)}`);
    });
  });
}

t.test('backend restarted while sessions are open: spliced sessions close, new logins work', async (t) => {
  await leakChecked(t, async ({ stop, token }) => {
    const p = await startProxy({ backend, userinfoUrl: idp.userinfoUrl });
    stop.push(() => p.stop());
    const c = await imaps(p);
    t.match(await imapTokenLogin(c, alice.email, token()), /^a1 OK /);
    t.match((await c.command('a2 SELECT INBOX')).tagged, /^a2 OK/);
    const s = await smtps(p);
    t.equal((await smtpTokenLogin(s, alice.email, token())).code, 235);
    const waiting = c.closedPromise; // Dovecot's BYE (if any) then the close
    await Promise.all([backend.restartDovecot(), backend.restartPostfix()]);
    await Promise.race([Promise.all([waiting, s.closedPromise]), new Promise((r) => setTimeout(r, 5000))]);
    t.ok(c.closed, 'the IMAP client sees its session close');
    t.ok(s.closed, 'the SMTP client sees its session close');
    const c2 = await imaps(p);
    t.match(await imapTokenLogin(c2, alice.email, token()), /^a1 OK /, 'a new IMAP login works');
    t.match((await c2.command('a2 SELECT INBOX')).tagged, /^a2 OK/);
    await c2.command('a3 LOGOUT').catch(() => undefined);
    c2.close();
    const s2 = await smtps(p);
    t.equal((await smtpTokenLogin(s2, alice.email, token())).code, 235, 'a new SMTP login works');
    await s2.quit();
    await eventually(() => p.logs().filter((l) => l.event === 'session-end' && l.user === alice.email).length >= 4, 3000, 'every session logged its end');
  });
});

t.test('no unhandled rejection or uncaught exception', async (t) => {
  t.equal(crashes.describe(), '', 'none fired');
});
