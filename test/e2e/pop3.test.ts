// POP3 through the proxy against a real Dovecot pop3 (RFC 1939, 2449, 5034, 3206): curl with
// a token (XOAUTH2 and OAUTHBEARER, STLS and implicit TLS), Python poplib with a password
// (USER/PASS and AUTH PLAIN), a raw client with XOAUTH2 (error challenge); list, retrieve
// and delete a message delivered through Postfix; refusals; the client's address at Dovecot.
import t from 'tap';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { eventually, startProxy, type TestProxy } from '../harness/proxy.js';
import { RawPop3 } from '../harness/raw-pop3.js';
import { b64, oauthbearer, xoauth2 } from '../harness/raw-imap.js';
import { startBackendAndIdp } from '../harness/stack.js';
import { readFileSync } from 'node:fs';
import type { MailUser } from '../harness/backend.js';
import { DOVECOT_LOGGED_IN } from '../harness/flavour.js';

const run = promisify(execFile);
const WAIT_MS = 10_000;
/** Dovecot's pop3 login line: `Login:` in 2.3, `Logged in:` in 2.4. */
const loginLine = new RegExp(`pop3-login: (Info: )?${DOVECOT_LOGGED_IN}`);

const pop3Env = (b: { pop3Port: number }): Record<string, string> => ({
  LISTEN_POP3: '127.0.0.1:0', LISTEN_POP3S: '127.0.0.1:0', DMS_POP3_PORT: String(b.pop3Port), DMS_POP3_TLS: 'starttls',
});
const { backend, idp } = await startBackendAndIdp(t);
const [alice, bob] = backend.users as [MailUser, MailUser];
const secrets = [alice.password, bob.password, backend.master.password];
async function pop3Proxy(env: Record<string, string> = {}, userinfoUrl = idp.userinfoUrl): Promise<TestProxy> {
  const p = await startProxy({ backend, userinfoUrl, env: { ...pop3Env(backend), ...env } });
  t.teardown(() => p.stop());
  return p;
}
const proxy = await pop3Proxy();
const ca = readFileSync(proxy.certs.caFile, 'utf8');
const pop3Port = (p: TestProxy = proxy): number => p.server.port('pop3');
const pop3sPort = (p: TestProxy = proxy): number => p.server.port('pop3s');

async function token(email: string): Promise<string> {
  const tok = await idp.mintToken(email);
  secrets.push(tok);
  return tok;
}

async function plain(port = pop3Port(), opts: { localAddress?: string } = {}): Promise<RawPop3> {
  const c = await RawPop3.connect(port, opts);
  t.teardown(() => c.close());
  t.match(await c.line(), /^\+OK /, 'greeting');
  return c;
}

async function secure(p: TestProxy = proxy, opts: { localAddress?: string } = {}): Promise<RawPop3> {
  const c = await RawPop3.connect(pop3sPort(p), { implicitTls: true, ca: readFileSync(p.certs.caFile, 'utf8'), ...opts });
  t.teardown(() => c.close());
  t.match(await c.line(), /^\+OK /, 'greeting');
  return c;
}

/** Delivers a message to `user` through Postfix (port 25 → LMTP → Dovecot); its subject. */
async function deliver(user: MailUser): Promise<string> {
  const subject = `pop3 ${randomBytes(6).toString('hex')}`;
  const inbound = nodemailer.createTransport({
    host: backend.host, port: backend.smtpPort, secure: false, ignoreTLS: true,
    connectionTimeout: WAIT_MS, greetingTimeout: WAIT_MS, socketTimeout: WAIT_MS,
  });
  await inbound.sendMail({ from: 'someone@elsewhere.test', to: user.email, subject, text: `hello ${user.email}\n.leading dot\n` });
  return subject;
}

/** The number of messages in `user`'s maildrop, read over POP3 through the proxy with a password. */
async function stat(user: MailUser): Promise<number> {
  const c = await secure();
  t.match(await c.command(`USER ${user.email}`), /^\+OK/);
  t.match(await c.command(`PASS ${user.password}`), /^\+OK Logged in/);
  const m = /^\+OK (\d+) /.exec(await c.command('STAT'));
  c.write('QUIT\r\n');
  return Number(m?.[1]);
}

async function waitForMessages(user: MailUser, n: number): Promise<void> {
  await eventually(async () => (await stat(user)) >= n, WAIT_MS, `${n} message(s) for ${user.email}`);
}

t.test('CAPA before TLS: STLS, no SASL and no USER; USER, PASS and AUTH refused with [AUTH]', async (t) => {
  const c = await plain();
  t.match(await c.command('CAPA'), /^\+OK/);
  const caps = await c.body();
  t.ok(caps.includes('STLS'));
  t.ok(caps.includes('RESP-CODES') && caps.includes('AUTH-RESP-CODE'));
  t.notOk(caps.some((l) => l.startsWith('SASL') || l === 'USER'), 'no login offered in plaintext');
  t.match(await c.command(`USER ${alice.email}`), /^-ERR \[AUTH\] /);
  t.match(await c.command(`PASS ${alice.password}`), /^-ERR \[AUTH\] /);
  t.match(await c.command(`AUTH PLAIN ${b64(`\0${alice.email}\0${alice.password}`)}`), /^-ERR \[AUTH\] /);
  t.match(await c.command('STAT'), /^-ERR /, 'no TRANSACTION command before login');
  t.match(await c.stls(ca), /^\+OK/);
  t.match(await c.command('CAPA'), /^\+OK/);
  const after = await c.body();
  t.ok(after.includes('SASL OAUTHBEARER XOAUTH2 PLAIN LOGIN') && after.includes('USER'), 'after STLS: SASL and USER');
  t.notOk(after.includes('STLS'));
});

t.test('raw XOAUTH2: list, retrieve and delete a message delivered through Postfix', async (t) => {
  const subject = await deliver(bob);
  await waitForMessages(bob, 1);
  const c = await secure();
  t.match(await c.command(`AUTH XOAUTH2 ${xoauth2(bob.email, await token(bob.email))}`), /^\+OK Logged in/);
  const n = Number(/^\+OK (\d+) /.exec(await c.command('STAT'))?.[1]);
  t.ok(n >= 1);
  t.match(await c.command('LIST'), /^\+OK/);
  t.equal((await c.body()).length, n);
  let found = 0;
  for (let i = 1; i <= n; i++) {
    t.match(await c.command(`RETR ${i}`), /^\+OK/);
    const body = await c.body();
    if (body.includes(`Subject: ${subject}`)) {
      found = i;
      t.ok(body.includes('.leading dot'), 'dot-stuffed line comes through');
    }
  }
  t.ok(found > 0, 'the delivered message is there');
  t.match(await c.command(`DELE ${found}`), /^\+OK/);
  t.match(await c.command('QUIT'), /^\+OK/);
  t.ok(await c.waitClosed());
  t.equal(await stat(bob), n - 1, 'deleted after QUIT (UPDATE state)');
});

t.test('XOAUTH2 with a bad token: the error challenge, an empty reply, then -ERR [AUTH]', async (t) => {
  const c = await secure();
  const ch = await c.command(`AUTH XOAUTH2 ${xoauth2(alice.email, 'garbage')}`);
  t.match(ch, /^\+ /);
  t.same(JSON.parse(Buffer.from(ch.slice(2), 'base64').toString('utf8')).status, '401');
  t.match(await c.command(''), /^-ERR \[AUTH\] Authentication failed\./);
  // The exchange without an initial response: "+ " first, then the response.
  t.match(await c.command('AUTH XOAUTH2'), /^\+ ?$/);
  t.match(await c.command(xoauth2(alice.email, await token(alice.email))), /^\+OK Logged in/);
  t.match(await c.command('NOOP'), /^\+OK/);
});

t.test('OAUTHBEARER cancelled with * and an empty initial response (=)', async (t) => {
  const c = await secure();
  t.match(await c.command('AUTH OAUTHBEARER'), /^\+ /);
  t.match(await c.command('*'), /^-ERR /);
  t.match(await c.command('AUTH PLAIN ='), /^-ERR/, 'an empty PLAIN response is refused');
  t.match(await c.command(`AUTH OAUTHBEARER ${oauthbearer(alice.email, await token(alice.email))}`), /^\+OK Logged in/);
  const metrics = await (await fetch(`http://127.0.0.1:${proxy.server.port('http')}/metrics`, { signal: AbortSignal.timeout(WAIT_MS) })).text();
  t.match(metrics, /^oauth2_mail_proxy_sessions_active\{protocol="pop3"\} [1-9]/m, 'counted as a pop3 session');
  t.match(metrics, /^oauth2_mail_proxy_logins_total\{[^}]*protocol="pop3"[^}]*\} [1-9]/m, 'its login counted under pop3');
});

t.test('curl pop3:// with STLS (--ssl-reqd) and XOAUTH2, pop3s:// with OAUTHBEARER', async (t) => {
  const subject = await deliver(alice);
  await waitForMessages(alice, 1);
  const curl = async (url: string, mech: string, extra: string[] = []): Promise<string> => {
    const port = new URL(url).port;
    const { stdout } = await run('curl', [
      '-sS', '--max-time', '20', '--cacert', proxy.certs.caFile, '--resolve', `localhost:${port}:127.0.0.1`,
      '-u', `${alice.email}:`, '--login-options', `AUTH=${mech}`, '--oauth2-bearer', await token(alice.email), ...extra, url,
    ]);
    return stdout;
  };
  const list = await curl(`pop3://localhost:${pop3Port()}/`, 'XOAUTH2', ['--ssl-reqd']);
  t.match(list, /^1 \d+\r?$/m, 'LIST over STLS');
  const count = list.trim().split('\n').length;
  const last = await curl(`pop3s://localhost:${pop3sPort()}/${count}`, 'OAUTHBEARER');
  t.match(last, new RegExp(`Subject: ${subject}`), 'RETR over implicit TLS');
});

t.test('Python poplib with a password: STLS + USER/PASS, and AUTH PLAIN on 995', async (t) => {
  const script = `
import poplib, ssl, base64, os, sys
ctx = ssl.create_default_context(cafile=os.environ['CA'])
p = poplib.POP3('localhost', int(os.environ['PORT']), timeout=10)
p.stls(context=ctx)
p.user(os.environ['USER_'])
print(p.pass_(os.environ['PASS_']).decode())
n, size = p.stat()
print('stat', n)
resp, lines, octets = p.retr(n)
print('retr', resp.decode(), len(lines))
p.quit()
s = poplib.POP3_SSL('localhost', int(os.environ['PORTS']), context=ctx, timeout=10)
ir = base64.b64encode(('\\0' + os.environ['USER_'] + '\\0' + os.environ['PASS_']).encode()).decode()
print(s._shortcmd('AUTH PLAIN ' + ir).decode())
print('stat', s.stat()[0])
s.quit()
`;
  const { stdout } = await run('python3', ['-c', script], {
    env: { ...process.env, CA: proxy.certs.caFile, PORT: String(pop3Port()), PORTS: String(pop3sPort()), USER_: alice.email, PASS_: alice.password },
    timeout: 30_000,
  });
  const out = stdout.split('\n');
  t.match(out[0], /^\+OK Logged in/);
  t.match(out[1], /^stat [1-9]/);
  t.match(out[2], /^retr \+OK \d+/);
  t.match(out[3], /^\+OK Logged in/);
  t.match(out[4], /^stat [1-9]/);
  t.notMatch(proxy.rawLogs(), alice.password, 'the password is never logged');
});

t.test('a wrong password: -ERR [AUTH], and an auth-failed event for Fail2Ban', async (t) => {
  const c = await secure();
  t.match(await c.command(`USER ${alice.email}`), /^\+OK/);
  t.match(await c.command('PASS not-her-password'), /^-ERR \[AUTH\] Authentication failed\./);
  t.ok(proxy.logs().some((l) => l.event === 'auth-failed' && l.proto === 'pop3'));
  t.match(await c.command('PASS alone'), /^-ERR /, 'PASS without USER');
});

t.test('the client address reaches Dovecot (XCLIENT ADDR), and our session id with it', async (t) => {
  const c = await secure(proxy, { localAddress: '127.0.0.2' });
  t.match(await c.command(`AUTH XOAUTH2 ${xoauth2(alice.email, await token(alice.email))}`), /^\+OK Logged in/);
  const line = await eventually(async () => (await backend.dovecotLog()).split('\n')
    .filter((l) => loginLine.test(l) && l.includes(`user=<${alice.email}>`) && l.includes('rip=127.0.0.2')).at(-1), WAIT_MS, 'Dovecot login line');
  const sid = proxy.logs().filter((l) => l.event === 'login' && l.proto === 'pop3').at(-1)?.cid;
  t.ok(sid && line?.includes(`session=<${String(sid)}>`), 'Dovecot logs our session id');
});

t.test('PROXY v2 to a haproxy = yes pop3 listener carries the client address', async (t) => {
  // Dovecot 2.4 refuses STLS after a PROXY header (as IMAP's STARTTLS, client-address.test.ts):
  // there the leg is plaintext and the header's SSL TLV says the client used TLS.
  const p = await pop3Proxy({
    DMS_POP3_PORT: String(backend.pop3HaproxyPort), DMS_POP3_PROXY_PROTOCOL: '1',
    ...(backend.flavour === 'debian13' ? { DMS_POP3_TLS: 'none' } : {}),
  });
  const c = await secure(p, { localAddress: '127.0.0.3' });
  t.match(await c.command(`AUTH XOAUTH2 ${xoauth2(alice.email, await token(alice.email))}`), /^\+OK Logged in/);
  await eventually(async () => (await backend.dovecotLog()).includes('rip=127.0.0.3'), WAIT_MS, 'Dovecot login line with rip=127.0.0.3');
});

t.test('IdP down: -ERR [SYS/TEMP]; DMS down: -ERR [SYS/TEMP]', async (t) => {
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const noIdp = await pop3Proxy({}, `http://127.0.0.1:${port}/userinfo`);
  const c = await secure(noIdp);
  t.match(await c.command(`AUTH XOAUTH2 ${xoauth2(alice.email, await token(alice.email))}`), /^-ERR \[SYS\/TEMP\] /);
  const noDms = await pop3Proxy({ DMS_POP3_PORT: String(port) });
  const d = await secure(noDms);
  t.match(await d.command(`AUTH XOAUTH2 ${xoauth2(alice.email, await token(alice.email))}`), /^-ERR \[SYS\/TEMP\] /);
  const ready = async (p: TestProxy) => {
    const res = await fetch(`http://127.0.0.1:${p.server.port('http')}/readyz`, { signal: AbortSignal.timeout(WAIT_MS) });
    return { status: res.status, backend: ((await res.json()) as { checks: Array<{ name: string; ok: boolean; detail?: string }> }).checks.find((c) => c.name === 'backend') };
  };
  const down = await ready(noDms);
  t.equal(down.status, 503, 'with POP3 on, an unreachable DMS pop3 port makes the proxy not ready');
  t.equal(down.backend?.ok, false);
  const up = await ready(proxy);
  t.match(up.backend?.detail, String(backend.pop3Port), 'the readiness probe includes DMS\'s pop3 port');
});

t.test('hostile input: pipelined plaintext after STLS is dropped, HTTP and over-long lines end the session', async (t) => {
  const c = await plain();
  c.write('STLS\r\nCAPA\r\n');
  t.match(await c.line(), /^\+OK/);
  await c.upgradeTls(ca);
  t.match(await c.command('NOOP'), /^-ERR /, 'the pipelined CAPA was not answered; NOOP is the next reply');
  const h = await plain();
  h.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  t.match(await h.line(), /^-ERR /);
  t.ok(await h.waitClosed());
  const l = await plain();
  l.write(`${'A'.repeat(40_000)}\r\n`);
  t.match(await l.line(), /^-ERR Line too long/);
  t.ok(await l.waitClosed());
});

t.test('shutdown: a logged-in session gets -ERR when quiet and is closed, without committing DELE', async (t) => {
  const p = await pop3Proxy();
  await deliver(alice);
  await waitForMessages(alice, 1);
  const before = await stat(alice);
  const c = await secure(p);
  t.match(await c.command(`AUTH XOAUTH2 ${xoauth2(alice.email, await token(alice.email))}`), /^\+OK Logged in/);
  t.match(await c.command('DELE 1'), /^\+OK/);
  const waiting = await plain(pop3Port(p));
  const started = Date.now();
  await p.server.shutdown(5000);
  t.match(await waiting.line(), /^-ERR Server shutting down/, 'before login: at once');
  t.match(await c.line(), /^-ERR Server shutting down/, 'logged in: when quiet');
  t.ok(await c.waitClosed());
  t.ok(Date.now() - started < 5000);
  t.equal(await stat(alice), before, 'no QUIT, no UPDATE state: nothing deleted');
});

t.test('invalid commands count toward IMAP_MAX_BAD_COMMANDS, then the session ends', async (t) => {
  const p = await pop3Proxy({ IMAP_MAX_BAD_COMMANDS: '3' });
  const c = await plain(pop3Port(p));
  t.match(await c.command('APOP alice 0123456789abcdef'), /^-ERR Unknown command/, 'APOP is not offered');
  t.match(await c.command('RETR 1'), /^-ERR Log in first/);
  t.match(await c.command('CAPA'), /^\+OK/, 'a valid command in between');
  await c.body();
  t.match(await c.command('XYZZY'), /^-ERR /);
  t.match(await c.line(), /^-ERR Too many invalid commands/);
  t.ok(await c.waitClosed());
});
