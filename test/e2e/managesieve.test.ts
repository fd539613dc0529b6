// ManageSieve end to end (issue 18): a raw RFC 5804 client doing what Roundcube's managesieve
// plugin does, and Debian's sieve-connect, through the proxy (real TLS) to Dovecot's
// managesieve; the uploaded script then acts on a message delivered through Postfix.
import t from 'tap';
import { deadPort } from '../harness/ports.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { RawSieve, b64, literal, oauthbearer, xoauth2 } from '../harness/raw-sieve.js';
import { startStack } from '../harness/stack.js';
import { eventually, startProxy } from '../harness/proxy.js';

const SIEVE_ENV = { LISTEN_MANAGESIEVE: '127.0.0.1:0' };
const { backend, idp, proxy, ca, alice, bob, secrets } = await startStack(t, { proxyEnv: SIEVE_ENV });
const port = proxy.managesievePort;

async function token(email: string): Promise<string> {
  const tok = await idp.mintToken(email);
  secrets.push(tok);
  return tok;
}

/** Connected, greeting read, STARTTLS done (the capabilities after TLS returned). */
async function secured(p = port, caPem = ca): Promise<{ c: RawSieve; greeting: string[]; afterTls: string[] }> {
  const c = await RawSieve.connect(p);
  const g = await c.response();
  const tls = await c.startTls(caPem);
  return { c, greeting: [...g.lines, g.response], afterTls: [...tls.lines, tls.response] };
}

const script = (folder: string): string => `require ["fileinto"];\r\nif header :contains "subject" "sieve-test" {\r\n  fileinto "${folder}";\r\n}\r\n`;

async function deliverAndFind(user: { email: string; password: string }, folder: string): Promise<void> {
  const subject = `sieve-test ${randomBytes(4).toString('hex')}`;
  const inbound = nodemailer.createTransport({ host: backend.host, port: backend.smtpPort, secure: false, ignoreTLS: true });
  await inbound.sendMail({ from: 'someone@elsewhere.test', to: user.email, subject, text: 'filtered\n' });
  const client = new ImapFlow({
    host: '127.0.0.1', port: proxy.imapsPort, secure: true, tls: { ca, servername: 'localhost' },
    auth: { user: user.email, pass: user.password }, logger: false, disableAutoIdle: true,
  });
  await client.connect();
  try {
    const found = await eventually(async () => {
      const list = await client.list();
      if (!list.some((m) => m.path === folder)) return undefined;
      const lock = await client.getMailboxLock(folder);
      try {
        const uids = await client.search({ subject }, { uid: true });
        return uids && uids.length > 0 ? uids : undefined;
      } finally {
        lock.release();
      }
    }, 10_000, `"${subject}" in ${folder}`);
    t.equal(found!.length, 1, `the script filed the delivered message into ${folder}`);
  } finally {
    await client.logout();
  }
}

t.test('greeting and STARTTLS: our SASL list only after TLS, SIEVE from Dovecot, capabilities again after TLS', async (t) => {
  const { c, greeting, afterTls } = await secured();
  t.teardown(() => c.close());
  t.match(greeting.at(-1), /^OK /);
  t.ok(greeting.includes('"SASL" ""'), 'no mechanism before TLS (ALLOW_PLAINTEXT_AUTH=0)');
  t.ok(greeting.includes('"STARTTLS"'));
  t.ok(greeting.includes('"VERSION" "1.0"'));
  t.ok(greeting.some((l) => /^"SIEVE" ".*\bfileinto\b.*"$/.test(l)), 'SIEVE extensions listed');
  t.match(afterTls.at(-1), /^OK /);
  t.ok(afterTls.includes('"SASL" "OAUTHBEARER XOAUTH2 PLAIN LOGIN"'), 'mechanisms after TLS');
  t.notOk(afterTls.includes('"STARTTLS"'), 'no STARTTLS once secure');
  t.match((await c.command('NOOP "abc"')).response, /^OK \(TAG "abc"\)/);
  t.match((await c.command('LOGOUT')).response, /^OK /);
  t.ok(await c.waitClosed());
});

t.test('Roundcube flow: STARTTLS, AUTHENTICATE "XOAUTH2" with a token, PUTSCRIPT, SETACTIVE; the script acts', async (t) => {
  const { c } = await secured();
  t.teardown(() => c.close());
  const r = await c.command(`AUTHENTICATE "XOAUTH2" "${xoauth2(alice.email, await token(alice.email))}"`, 15_000);
  t.match(r.response, /^OK /, 'logged in with the token');
  // From here on Dovecot answers: CAPABILITY shows its post-login list.
  const caps = await c.command('CAPABILITY');
  t.match(caps.response, /^OK /);
  t.ok(caps.lines.some((l) => l.startsWith('"IMPLEMENTATION" "Dovecot')), 'CAPABILITY comes from Dovecot after the login');
  const body = script('Filtered');
  t.match((await c.command(`PUTSCRIPT "roundcube" ${literal(body)}`)).response, /^OK/);
  t.match((await c.command('SETACTIVE "roundcube"')).response, /^OK/);
  const list = await c.command('LISTSCRIPTS');
  t.ok(list.lines.includes('"roundcube" ACTIVE'), 'the script is active');
  await c.command('LOGOUT');
  await deliverAndFind(alice, 'Filtered');
});

t.test('OAUTHBEARER with a literal initial response', async (t) => {
  const { c } = await secured();
  t.teardown(() => c.close());
  const r = await c.command(`AUTHENTICATE "OAUTHBEARER" ${literal(oauthbearer(bob.email, await token(bob.email)))}`, 15_000);
  t.match(r.response, /^OK /);
  t.match((await c.command('LISTSCRIPTS')).response, /^OK/);
});

t.test('OAUTHBEARER with a continuation round (empty challenge, string response)', async (t) => {
  const { c } = await secured();
  t.teardown(() => c.close());
  c.write('AUTHENTICATE "OAUTHBEARER"\r\n');
  t.equal(await c.challenge(), '', 'an empty server challenge');
  const r = await c.command(`"${oauthbearer(bob.email, await token(bob.email))}"`, 15_000);
  t.match(r.response, /^OK /);
  t.match((await c.command('HAVESPACE "x" 100')).response, /^OK/);
});

t.test('LOGIN with a password over two continuation rounds (literal responses)', async (t) => {
  const { c } = await secured();
  t.teardown(() => c.close());
  c.write('AUTHENTICATE "LOGIN"\r\n');
  t.type(await c.challenge(), 'string');
  c.write(`${literal(b64(alice.email))}\r\n`);
  t.type(await c.challenge(), 'string');
  c.write(`${literal(b64(alice.password))}\r\n`);
  t.match((await c.response(15_000)).response, /^OK /);
});

t.test('refusals: bad token → NO after the error challenge; cancel → NO; plaintext before TLS → NO (ENCRYPT-NEEDED)', async (t) => {
  const plain = await RawSieve.connect(port);
  t.teardown(() => plain.close());
  await plain.response();
  const before = await plain.command(`AUTHENTICATE "PLAIN" "${b64(`\0${alice.email}\0${alice.password}`)}"`);
  t.match(before.response, /^NO \(ENCRYPT-NEEDED\)/, 'no credential is taken in the clear');
  t.match((await plain.command('PUTSCRIPT "x" {1+}\r\nx')).response, /^NO /, 'script commands need a login');

  const { c } = await secured();
  t.teardown(() => c.close());
  c.write(`AUTHENTICATE "XOAUTH2" "${xoauth2(alice.email, 'not-a-valid-token')}"\r\n`);
  const ch = await c.challenge(15_000);
  t.type(ch, 'string', 'RFC 7628 error challenge as a string');
  t.match(JSON.parse(Buffer.from(ch as string, 'base64').toString()), { status: '401' });
  t.match((await c.command('""')).response, /^NO "/, 'then NO');
  c.write('AUTHENTICATE "PLAIN"\r\n');
  t.equal(await c.challenge(), '');
  t.match((await c.command('"*"')).response, /^NO /, '"*" cancels');
  t.match((await c.command(`AUTHENTICATE "PLAIN" "${b64(`\0${alice.email}\0wrong`)}"`, 15_000)).response, /^NO "/, 'wrong password → NO');
  t.match((await c.command(`AUTHENTICATE "PLAIN" "${b64(`\0${alice.email}\0${alice.password}`)}"`, 15_000)).response, /^OK /, 'the right one still works');
  const failures = proxy.logs().filter((l) => l.event === 'auth-failed' && l.proto === 'managesieve');
  t.ok(failures.length >= 2, 'auth-failed events (Fail2Ban) carry proto managesieve');
});

t.test('Dovecot managesieve down → NO (TRYLATER); the greeting still lists SIEVE (defaults)', async (t) => {
  const p = await startProxy({ backend: { ...backend, managesievePort: await deadPort() }, userinfoUrl: idp.userinfoUrl, env: SIEVE_ENV });
  t.teardown(() => p.stop());
  const { c, greeting } = await secured(p.managesievePort, readFileSync(p.certs.caFile, 'utf8'));
  t.teardown(() => c.close());
  t.ok(greeting.some((l) => l.startsWith('"SIEVE" "fileinto')), 'Dovecot 2.3 defaults until the backend answers');
  const r = await c.command(`AUTHENTICATE "XOAUTH2" "${xoauth2(alice.email, await token(alice.email))}"`, 15_000);
  t.match(r.response, /^NO \(TRYLATER\)/);
  // As for POP3: a front whose DMS port is unreachable makes the proxy not ready.
  const ready = async (port: number) => {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(10_000) });
    return { status: res.status, backend: ((await res.json()) as { checks: Array<{ name: string; ok: boolean; detail?: string }> }).checks.find((k) => k.name === 'backend') };
  };
  const down = await ready(p.server.port('http'));
  t.equal(down.status, 503, 'with ManageSieve on, an unreachable DMS managesieve port makes the proxy not ready');
  t.equal(down.backend?.ok, false);
  t.match((await ready(proxy.server.port('http'))).backend?.detail, String(backend.managesievePort), "the readiness probe includes DMS's managesieve port");
});

t.test('DMS_MANAGESIEVE_TLS=none: plaintext leg to Dovecot (trusted network), the client still on TLS', async (t) => {
  const p = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env: { ...SIEVE_ENV, DMS_MANAGESIEVE_TLS: 'none' } });
  t.teardown(() => p.stop());
  const { c } = await secured(p.managesievePort, readFileSync(p.certs.caFile, 'utf8'));
  t.teardown(() => c.close());
  t.match((await c.command(`AUTHENTICATE "OAUTHBEARER" "${oauthbearer(bob.email, await token(bob.email))}"`, 15_000)).response, /^OK /);
  t.match((await c.command('LISTSCRIPTS')).response, /^OK/);
});

t.test('IdP down → NO (TRYLATER)', async (t) => {
  const p = await startProxy({ backend, userinfoUrl: `http://127.0.0.1:${await deadPort()}/userinfo`, env: SIEVE_ENV });
  t.teardown(() => p.stop());
  const { c } = await secured(p.managesievePort, readFileSync(p.certs.caFile, 'utf8'));
  t.teardown(() => c.close());
  const r = await c.command(`AUTHENTICATE "XOAUTH2" "${xoauth2(alice.email, await token(alice.email))}"`, 15_000);
  t.match(r.response, /^NO \(TRYLATER\)/);
});

t.test('hostile input: HTTP request closed at once; bad commands end the session', async (t) => {
  const h = await RawSieve.connect(port);
  t.teardown(() => h.close());
  await h.response();
  h.write('GET / HTTP/1.1\r\n');
  t.match((await h.response()).response, /^BYE /);
  t.ok(await h.waitClosed());
  const b = await RawSieve.connect(port);
  t.teardown(() => b.close());
  await b.response();
  let last = '';
  for (let i = 0; i < 25 && !b.closed; i++) last = (await b.command('FOO').catch(() => ({ response: 'closed' }))).response;
  t.match(last, /^(BYE|closed)/, 'the bad-command budget ends it');
});

t.test('no secret in any log line', async (t) => {
  const raw = proxy.rawLogs();
  for (const s of secrets) t.notOk(raw.includes(s), 'secret not logged');
});

// sieve-connect (Debian) authenticates through Authen::SASL::Perl, which has no XOAUTH2 or
// OAUTHBEARER: it is tested with a password (the token path is the raw client's, above).
t.test('sieve-connect uploads and activates a script with a password (STARTTLS, PLAIN)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sieve-connect-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const local = join(dir, 'vacation.sieve');
  writeFileSync(local, script('FromSieveConnect'));
  const commands = join(dir, 'commands');
  writeFileSync(commands, `put ${local} fromcli\nactivate fromcli\nlist\nquit\n`);
  const run = (): Promise<{ code: number | null; out: string }> => new Promise((resolve) => {
    const child = spawn('sieve-connect', [
      '--server', '127.0.0.1', '--port', String(port), '--user', bob.email, '--passwordfd', '3',
      '--tlscafile', proxy.certs.caFile, '--tlshostname', 'localhost', '--authmech', 'PLAIN', '--exec', commands,
    ], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    (child.stdio[3] as NodeJS.WritableStream).end(`${bob.password}\n`);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
  const r = await run();
  t.equal(r.code, 0, `sieve-connect succeeded: ${r.out.slice(0, 500)}`);
  t.match(r.out, /"fromcli" ACTIVE/, 'listed as the active script');
  await deliverAndFind(bob, 'FromSieveConnect');
});

t.test('graceful shutdown: a logged-in session gets BYE when quiet, one before login at once', async (t) => {
  const p = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env: SIEVE_ENV });
  t.teardown(() => p.stop());
  const pca = readFileSync(p.certs.caFile, 'utf8');
  const { c: spliced } = await secured(p.managesievePort, pca);
  t.teardown(() => spliced.close());
  t.match((await spliced.command(`AUTHENTICATE "XOAUTH2" "${xoauth2(bob.email, await token(bob.email))}"`, 15_000)).response, /^OK /);
  const { c: waiting } = await secured(p.managesievePort, pca);
  t.teardown(() => waiting.close());
  const done = p.server.shutdown(10_000);
  t.match((await waiting.response()).response, /^BYE "Server shutting down\."/, 'before login: BYE');
  t.match((await spliced.response(5000)).response, /^BYE "Server shutting down\."/, 'spliced: BYE once quiet');
  t.ok(await spliced.waitClosed(5000), 'then closed');
  await done;
});
