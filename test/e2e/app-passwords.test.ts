// App passwords end to end (issue 19): made with the admin CLI on the proxy's state file,
// used over IMAP (LOGIN, AUTHENTICATE PLAIN) and SMTP (AUTH PLAIN, mail delivered), checked
// by the proxy itself (Dovecot never sees them: the login is the master login), revoked, and
// never logged. DMS passwords keep working beside them.
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { RawClient, b64 } from '../harness/raw-imap.js';
import { RawPop3 } from '../harness/raw-pop3.js';
import { startStack } from '../harness/stack.js';
import { appPasswordCommand } from '../../src/commands/app-password.js';

const file = join(mkdtempSync(join(tmpdir(), 'omp-app-pw-')), 'app-passwords.json');
const { backend, proxy, ca, alice, bob, secrets } = await startStack(t, { proxyEnv: { APP_PASSWORDS_FILE: file, LISTEN_POP3S: '127.0.0.1:0' } });

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await appPasswordCommand(['--file', file, ...argv], { env: {}, out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

async function create(user: string, label: string): Promise<{ id: string; secret: string }> {
  const r = await cli('--json', 'create', user, label);
  t.equal(r.code, 0, r.err);
  const made = JSON.parse(r.out) as { id: string; secret: string };
  secrets.push(made.secret, made.secret.replace(/-/g, ''));
  return made;
}

async function imapLogin(user: string, password: string, how: 'LOGIN' | 'PLAIN' = 'LOGIN'): Promise<string> {
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  try {
    await c.line();
    const r = how === 'LOGIN'
      ? await c.command(`a LOGIN "${user}" "${password}"`, 15_000)
      : await c.command(`a AUTHENTICATE PLAIN ${b64(`\0${user}\0${password}`)}`, 15_000);
    if (/^a OK/.test(r.tagged)) await c.command('b LOGOUT');
    return r.tagged;
  } finally {
    c.close();
  }
}

const waitUntil = async (what: string, ok: () => Promise<boolean>, ms = 5000): Promise<void> => {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
};

t.test('an app password logs in over POP3 too (USER/PASS and AUTH PLAIN)', async (t) => {
  const { secret } = await create(alice.email, 'Old mail client');
  for (const how of ['USER', 'PLAIN'] as const) {
    const c = await RawPop3.connect(proxy.server.port('pop3s'), { implicitTls: true, ca });
    t.teardown(() => c.close());
    await c.line();
    if (how === 'USER') t.match(await c.command(`USER ${alice.email}`), /^\+OK/);
    const r = how === 'USER' ? await c.command(`PASS ${secret}`, 15_000) : await c.command(`AUTH PLAIN ${b64(`\0${alice.email}\0${secret}`)}`, 15_000);
    t.match(r, /^\+OK Logged in/, how);
    t.match(await c.command('STAT'), /^\+OK /);
    c.write('QUIT\r\n');
  }
  t.ok(proxy.logs().some((l) => l.event === 'login' && l.proto === 'pop3' && l.via === 'app-password'), 'logged as an app-password login');
});

t.test('an app password logs in over IMAP with the master login; DMS never sees it', async (t) => {
  const { secret } = await create(alice.email, 'Phone');
  t.match(await imapLogin(alice.email, secret), /^a OK/, 'LOGIN at once: the proxy reads the changed file on the next login');
  t.match(await imapLogin(alice.email, secret, 'PLAIN'), /^a OK/, 'AUTHENTICATE PLAIN too');
  t.match(await imapLogin(alice.email.toUpperCase(), secret.toUpperCase().replace(/-/g, ' ')), /^a OK/, 'typed in capitals, with spaces for dashes');
  const client = new ImapFlow({ host: '127.0.0.1', port: proxy.imapsPort, secure: true, tls: { ca, servername: 'localhost' }, auth: { user: alice.email, pass: secret }, logger: false });
  await client.connect();
  const lock = await client.getMailboxLock('INBOX');
  lock.release();
  await client.logout();
  t.pass('a real client works with it');
  const logins = proxy.logs().filter((l) => l.event === 'login' && l.user === alice.email);
  t.ok(logins.length >= 4 && logins.every((l) => l.via === 'app-password'), 'logged as via=app-password');
  const dovecotLog = await backend.dovecotLog();
  t.notOk(dovecotLog.includes(secret), 'Dovecot never saw the secret');
  // The secret is not alice's DMS password: Dovecot accepted the master login, nothing else.
  t.match(await imapLogin(alice.email, 'not-her-password-' + secret), /^a NO/, 'Dovecot itself would refuse a wrong password');
});

t.test('the DMS password still works; a wrong app password is a failed login; another user cannot use it', async (t) => {
  const { secret } = await create(bob.email, 'Laptop');
  t.match(await imapLogin(bob.email, secret), /^a OK/);
  t.match(await imapLogin(bob.email, bob.password), /^a OK/, 'DMS password passes through as before');
  t.match(await imapLogin(alice.email, secret), /^a NO \[AUTHENTICATIONFAILED\]/, 'bob\'s app password is not alice\'s');
  const wrong = `${secret.slice(0, -1)}${secret.endsWith('a') ? 'b' : 'a'}`;
  t.match(await imapLogin(bob.email, wrong), /^a NO \[AUTHENTICATIONFAILED\]/, 'one character off');
  t.ok(proxy.logs().some((l) => l.event === 'auth-failed' && l.user === bob.email), 'auth-failed for Fail2Ban');
});

t.test('SMTP AUTH PLAIN with an app password: mail delivered', async (t) => {
  const { secret } = await create(alice.email, 'Laptop Thunderbird');
  const tr = nodemailer.createTransport({
    host: '127.0.0.1', port: proxy.submissionPort, secure: false, requireTLS: true,
    tls: { ca, servername: 'localhost' }, auth: { user: alice.email, pass: secret }, authMethod: 'PLAIN', logger: false,
    connectionTimeout: 5000, greetingTimeout: 5000, socketTimeout: 20_000,
  });
  t.teardown(() => tr.close());
  const subject = `app password ${randomBytes(4).toString('hex')}`;
  const info = await tr.sendMail({ from: alice.email, to: bob.email, subject, text: 'sent with an app password' });
  t.match(info.response, /^250 2\.0\.0 Ok: queued as /);
  const reader = new ImapFlow({ host: '127.0.0.1', port: proxy.imapsPort, secure: true, tls: { ca, servername: 'localhost' }, auth: { user: bob.email, pass: bob.password }, logger: false });
  await reader.connect();
  t.teardown(() => reader.logout().catch(() => undefined));
  await waitUntil('delivery', async () => {
    const lock = await reader.getMailboxLock('INBOX');
    try {
      return ((await reader.search({ header: { subject } })) || []).length === 1;
    } finally {
      lock.release();
    }
  }, 15_000);
  t.pass('delivered to bob');
});

t.test('revoked with the CLI: the very next login fails', async (t) => {
  const { id, secret } = await create(alice.email, 'Old tablet');
  t.match(await imapLogin(alice.email, secret), /^a OK/);
  const listed = await cli('list', alice.email);
  t.match(listed.out, id, 'listed');
  t.notMatch(listed.out, /scrypt|secret/i, 'no hash or secret in the listing');
  t.equal((await cli('revoke', alice.email, id)).code, 0);
  t.match(await imapLogin(alice.email, secret), /^a NO \[AUTHENTICATIONFAILED\]/, 'refused at the next login');
  t.equal((await cli('revoke', alice.email, id)).code, 1, 'nothing left to revoke');
});

t.test('no secret in any log line or in the state file', async (t) => {
  const raw = proxy.rawLogs();
  for (const s of secrets) t.notOk(raw.includes(s), 'a secret in the proxy log');
  const state = readFileSync(file, 'utf8');
  for (const s of secrets.slice(3)) t.notOk(state.includes(s), 'an app password in the state file');
  t.match(state, /"hash": "scrypt\$/, 'hashes only');
});
