// Revoking an app password ends the live sessions that logged in with it (issue 19/20
// follow-up), with real parts: the admin CLI as its own process writes the state file, the
// running proxy notices and ends an IMAP session in IDLE with `* BYE`, a POP3 session and an
// SMTP session, within REVOKE_BOUND_MS; the same user's sessions with another app password,
// with an OAuth token and with the DMS password stay usable. `--all` ends every app-password
// session of the user, and still no other.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { ImapFlow } from 'imapflow';
import { RawClient, oauthbearer } from '../harness/raw-imap.js';
import { RawPop3 } from '../harness/raw-pop3.js';
import { RawSmtp, plainIr } from '../harness/raw-smtp.js';
import { startStack } from '../harness/stack.js';
import { appPasswordCommand } from '../../src/commands/app-password.js';

/** The bound the issue sets: a lost phone is cut off within about a second; 3 s under load. */
const REVOKE_BOUND_MS = 3000;
const ROOT = new URL('../../', import.meta.url).pathname;

const file = join(mkdtempSync(join(tmpdir(), 'omp-app-pw-revoke-')), 'app-passwords.json');
const { proxy, idp, ca, alice, secrets } = await startStack(t, { proxyEnv: { APP_PASSWORDS_FILE: file, LISTEN_POP3S: '127.0.0.1:0' } });

async function create(label: string): Promise<{ id: string; secret: string }> {
  let out = '';
  const code = await appPasswordCommand(['--file', file, '--json', 'create', alice.email, label], { env: {}, out: (s) => { out += s; }, err: () => undefined });
  t.equal(code, 0);
  const made = JSON.parse(out) as { id: string; secret: string };
  secrets.push(made.secret);
  return made;
}

/** The real CLI as another process (as an admin runs it): resolves with its exit code, bounded. */
function cliProcess(...argv: string[]): Promise<number | null> {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), 'src/cli.ts', 'app-password', '--file', file, ...argv], {
    cwd: ROOT, env: { PATH: process.env.PATH ?? '' }, stdio: 'ignore',
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => child.on('exit', (code) => { clearTimeout(timer); resolve(code); }));
}

/** IMAP over implicit TLS, logged in with `auth` (a LOGIN password or an OAUTHBEARER token), then in IDLE. */
async function idling(auth: { password: string } | { token: string }): Promise<RawClient> {
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  const r = 'password' in auth
    ? await c.command(`a LOGIN "${alice.email}" "${auth.password}"`, 15_000)
    : await c.command(`a AUTHENTICATE OAUTHBEARER ${oauthbearer(alice.email, auth.token)}`, 15_000);
  t.match(r.tagged, /^a OK/, 'logged in');
  t.match((await c.command('b SELECT INBOX')).tagged, /^b OK/);
  c.write('c IDLE\r\n');
  t.match(await c.line(), /^\+ /, 'in IDLE');
  return c;
}

/** Still usable: IDLE ends on DONE and a NOOP is answered. */
async function stillOpen(c: RawClient, what: string): Promise<void> {
  c.write('DONE\r\n');
  t.match((await c.until('c')).tagged, /^c OK/, `${what}: IDLE ends normally`);
  t.match((await c.command('d NOOP')).tagged, /^d OK/, `${what}: still usable`);
  c.write('c IDLE\r\n');
  t.match(await c.line(), /^\+ /, `${what}: in IDLE again`);
}

async function pop3Session(password: string): Promise<RawPop3> {
  const c = await RawPop3.connect(proxy.server.port('pop3s'), { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  t.match(await c.command(`USER ${alice.email}`), /^\+OK/);
  t.match(await c.command(`PASS ${password}`, 15_000), /^\+OK Logged in/, 'POP3 logged in');
  return c;
}

async function smtpSession(password: string): Promise<RawSmtp> {
  const c = await RawSmtp.connect(proxy.submissionPort);
  t.teardown(() => c.close());
  t.equal((await c.reply()).code, 220);
  await c.ehlo();
  t.equal((await c.startTls(ca)).code, 220);
  await c.ehlo();
  t.equal((await c.command(`AUTH PLAIN ${plainIr(alice.email, password)}`, 15_000)).code, 235, 'SMTP logged in');
  return c;
}

/** Ended the protocol's way within REVOKE_BOUND_MS of `since`: the line it got, and the time it took. */
async function endedWithin(since: number, next: () => Promise<string>, what: string, pattern: RegExp): Promise<void> {
  const line = await next().catch((err: Error) => `(no line: ${err.message})`);
  const ms = Date.now() - since;
  t.match(line, pattern, `${what}: ended the protocol's way`);
  t.ok(ms <= REVOKE_BOUND_MS, `${what}: ended ${ms} ms after the CLI exited (bound ${REVOKE_BOUND_MS} ms)`);
}

t.test('revoking one app password with the CLI ends its sessions (IMAP IDLE, POP3, SMTP) and only those; --all ends the rest of the app-password sessions', async (t) => {
  const p1 = await create('Lost phone');
  const p2 = await create('Laptop');
  const phone = await idling({ password: p1.secret });
  const phonePop = await pop3Session(p1.secret);
  const phoneSmtp = await smtpSession(p1.secret);
  const laptop = await idling({ password: p2.secret });
  const laptopSmtp = await smtpSession(p2.secret);
  const oauth = await idling({ token: await idp.mintToken(alice.email) });
  const dms = await idling({ password: alice.password });
  const realClient = new ImapFlow({ host: '127.0.0.1', port: proxy.imapsPort, secure: true, tls: { ca, servername: 'localhost' }, auth: { user: alice.email, pass: p2.secret }, logger: false });
  await realClient.connect();
  t.teardown(() => realClient.close());

  t.equal(await cliProcess('revoke', alice.email, p1.id), 0, 'the CLI revoked P1');
  const revokedAt = Date.now();
  await endedWithin(revokedAt, () => phone.lineAfterKeepalives(REVOKE_BOUND_MS + 1000), 'P1 IMAP in IDLE', /^\* BYE App password revoked\./);
  await endedWithin(revokedAt, () => phonePop.line(REVOKE_BOUND_MS + 1000), 'P1 POP3', /^-ERR .*App password revoked\./);
  await endedWithin(revokedAt, async () => (await phoneSmtp.reply(REVOKE_BOUND_MS + 1000)).raw, 'P1 SMTP', /^421 4\.7\.0 App password revoked/);
  t.ok(await phone.waitClosed(REVOKE_BOUND_MS), 'P1 IMAP connection closed');

  await stillOpen(laptop, 'P2 IMAP');
  t.equal((await laptopSmtp.command('NOOP')).code, 250, 'P2 SMTP still usable');
  await stillOpen(oauth, 'OAuth IMAP');
  await stillOpen(dms, 'DMS-password IMAP');
  t.ok(realClient.usable, 'imapflow with P2: still usable');
  const status = await realClient.status('INBOX', { messages: true });
  t.ok(status && typeof status.messages === 'number', 'imapflow with P2: STATUS answered');

  t.equal(await cliProcess('revoke', alice.email, '--all'), 0, 'the CLI revoked all of alice\'s app passwords');
  const allAt = Date.now();
  await endedWithin(allAt, () => laptop.lineAfterKeepalives(REVOKE_BOUND_MS + 1000), 'P2 IMAP in IDLE', /^\* BYE App password revoked\./);
  await endedWithin(allAt, async () => String((await laptopSmtp.reply(REVOKE_BOUND_MS + 1000)).code), 'P2 SMTP', /^421$/);
  const closed = new Promise<boolean>((resolve) => {
    if (!realClient.usable) resolve(true);
    realClient.once('close', () => resolve(true));
    setTimeout(() => resolve(false), REVOKE_BOUND_MS).unref();
  });
  t.ok(await closed, 'imapflow with P2: closed');
  await stillOpen(oauth, 'OAuth IMAP after --all');
  await stillOpen(dms, 'DMS-password IMAP after --all');
});
