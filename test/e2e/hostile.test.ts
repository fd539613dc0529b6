// Hostile input, one test each: the proxy answers with a clear protocol error or closes,
// never crashes, never lets it into a log line, and keeps serving everybody else.
import t from 'tap';
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { RawClient, b64, oauthbearer, xoauth2 } from '../harness/raw-imap.js';
import { RawPop3 } from '../harness/raw-pop3.js';
import { RawSieve, literal } from '../harness/raw-sieve.js';
import { startStack } from '../harness/stack.js';

// POP3 (110 STLS, 995) and ManageSieve (4190 STARTTLS) listen too.
const { idp, proxy, ca, alice, bob } = await startStack(t, {
  proxyEnv: { PREAUTH_TIMEOUT_SECONDS: '3', LISTEN_POP3: '127.0.0.1:0', LISTEN_POP3S: '127.0.0.1:0', LISTEN_MANAGESIEVE: '127.0.0.1:0' },
});

async function imaps(): Promise<RawClient> {
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  return c;
}
async function stillServing(t: Pick<typeof import("tap").default, "match">): Promise<void> {
  const c = await imaps();
  const r = await c.command(`z1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}`);
  t.match(r.tagged, /^z1 OK /, 'the proxy still logs others in');
}
async function drain(c: RawClient, ms = 3000): Promise<string[]> {
  const lines: string[] = [];
  for (;;) {
    try { lines.push(await c.line(ms)); } catch { return lines; }
  }
}

t.test('SMTP early talker (speaks before the greeting) is refused', async (t) => {
  const s = net.connect(proxy.submissionPort, '127.0.0.1');
  t.teardown(() => s.destroy());
  s.write('EHLO eager.test\r\n');
  let got = '';
  s.on('data', (d) => { got += d.toString(); });
  await new Promise((r) => s.once('close', r));
  t.match(got, /421 .*talk too soon/i);
});

t.test('an HTTP request on a mail port is ended at once', async (t) => {
  const c = await RawClient.connect(proxy.imapPort);
  t.teardown(() => c.close());
  await c.line();
  c.write('GET / HTTP/1.1\r\nHost: mail.example\r\n\r\n');
  t.match(await c.line(), /^\* BYE HTTP requests/);
  await c.closedPromise;
  const s = await RawClient.connect(proxy.submissionPort);
  t.teardown(() => s.close());
  await new Promise((r) => setTimeout(r, 200)); // after smtp-server's early-talker window
  await s.line();
  s.write('POST /login HTTP/1.1\r\n');
  t.match(await s.line(), /^421 .*HTTP/);
});

// An open-proxy probe: CONNECT with an authority target (RFC 9110 §9.3.6), not a path.
// smtp-server ends only HTTP requests whose target starts with "/": SMTP answered 500 and
// read on, header line by header line, where every other mail port ends it at once.
t.test('CONNECT host:port on IMAP and SMTP (587, 465) is ended at once', async (t) => {
  const probe = 'CONNECT mail.example:443 HTTP/1.1\r\n';
  const c = await RawClient.connect(proxy.imapPort);
  t.teardown(() => c.close());
  await c.line();
  c.write(probe);
  t.match(await c.line(), /^\* BYE HTTP requests/);
  t.ok(await c.waitClosed(2000), 'IMAP closed');
  for (const [port, implicitTls] of [[proxy.submissionPort, false], [proxy.submissionsPort, true]] as const) {
    const s = await RawClient.connect(port, implicitTls ? { implicitTls, ca } : {});
    t.teardown(() => s.close());
    await new Promise((r) => setTimeout(r, 200)); // after smtp-server's early-talker window
    await s.line();
    s.write(`${probe}Host: mail.example:443\r\n\r\n`);
    t.match(await s.line(), /^421 .*HTTP/, `SMTP ${port}: 421`);
    t.ok(await s.waitClosed(2000), 'and closed');
  }
});

t.test('an SMTP line over the limit is refused; the proxy keeps serving', async (t) => {
  const s = await RawClient.connect(proxy.submissionsPort, { implicitTls: true, ca });
  t.teardown(() => s.close());
  await s.line();
  s.write(`EHLO ${'x'.repeat(40_000)}\r\n`);
  t.match(await s.line(), /^(421|500|501) /);
  await stillServing(t);
});

t.test('endless literal chain in one command is cut by the per-command bounds', async (t) => {
  const c = await imaps();
  let chain = 'e1 ID (';
  for (let i = 0; i < 3000; i++) chain += `"k${i}" {10+}\r\n0123456789 `;
  c.write(`${chain})\r\n`);
  const lines = await drain(c, 2000);
  t.ok(lines.some((l) => /BAD|BYE/.test(l)), 'refused');
  await stillServing(t);
});

t.test('NUL and control characters in user names: refused, nothing injected into the log', async (t) => {
  const c = await imaps();
  const evil = 'alice@example.test\r\n{"level":50,"event":"forged"}';
  const r1 = await c.command(`n1 AUTHENTICATE PLAIN ${b64(`\0${evil}\0pw`)}`);
  t.match(r1.tagged, /^n1 (NO|BAD) /);
  const r2 = await c.command(`n2 AUTHENTICATE PLAIN ${b64('\0ali\u0000ce\0pw')}`);
  t.match(r2.tagged, /^n2 (NO|BAD) /);
  c.write('n3 LOGIN "ali\x07ce" pw\r\n');
  t.match((await c.until('n3')).tagged, /^n3 (NO|BAD) /);
  t.notOk(proxy.rawLogs().split('\n').some((l) => l.includes('"event":"forged"') && l.startsWith('{"level":50')), 'no forged log line');
  for (const l of proxy.rawLogs().split('\n')) t.notMatch(l, /[\x00-\x08\x0b-\x1f]/, 'no raw control character in a log line');
});

t.test('invalid base64 and invalid UTF-8 in SASL: BAD/NO, session goes on', async (t) => {
  const c = await imaps();
  t.match((await c.command('b1 AUTHENTICATE PLAIN not*base64!')).tagged, /^b1 BAD /);
  const badUtf8 = Buffer.from([0, 0xc3, 0x28, 0x40, 0x78, 0, 0x70, 0x77]).toString('base64');
  t.match((await c.command(`b2 AUTHENTICATE PLAIN ${badUtf8}`)).tagged, /^b2 (NO|BAD) /);
  c.write('b3 AUTHENTICATE OAUTHBEARER\r\n');
  await c.line();
  c.write('%%%%\r\n');
  t.match((await c.until('b3')).tagged, /^b3 BAD /);
  t.match((await c.command('b4 NOOP')).tagged, /^b4 OK/);
});

t.test('10,000 bad commands: the budget runs out, BYE, the rest is not processed', async (t) => {
  const c = await imaps();
  const started = Date.now();
  c.write(Array.from({ length: 10_000 }, (_, i) => `x${i} FROB\r\n`).join(''));
  const lines = await drain(c, 2000);
  t.match(lines.at(-1), /^\* BYE Too many invalid/);
  t.ok(lines.length <= 21, `at most the budget was answered (${lines.length} lines)`);
  t.ok(Date.now() - started < 5000);
  await stillServing(t);
});

t.test('SMTP STARTTLS with pipelined plaintext: the plaintext is discarded', async (t) => {
  const s = await RawClient.connect(proxy.submissionPort);
  t.teardown(() => s.close());
  await new Promise((r) => setTimeout(r, 200));
  await s.line();
  s.write('EHLO a.test\r\n');
  for (let l = await s.line(); !l.startsWith('250 '); l = await s.line());
  s.write('STARTTLS\r\nMAIL FROM:<evil@example.test>\r\n');
  t.match(await s.line(), /^220 /);
  const secure = tls.connect({ socket: s.socket, ca, servername: 'localhost' });
  let got = '';
  secure.on('data', (d: Buffer) => { got += d.toString(); });
  await new Promise<void>((r, j) => { secure.once('secureConnect', () => r()); secure.once('error', j); });
  secure.write('NOOP\r\n');
  await new Promise((r) => setTimeout(r, 400));
  t.match(got, /^250 /, 'the NOOP is answered');
  t.notMatch(got, /evil|503|530/, 'the injected MAIL FROM was never processed');
  secure.destroy();
});

t.test('TLS handshake garbage on 993 and 465: closed, proxy unharmed', async (t) => {
  for (const port of [proxy.imapsPort, proxy.submissionsPort]) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.write(randomBytes(4096));
    await new Promise((r) => s.once('close', r));
    t.pass(`port ${port} closed the garbage connection`);
  }
  await stillServing(t);
});

t.test('slowloris (a byte at a time) is cut by the pre-login deadline, IMAP and SMTP', async (t) => {
  for (const [port, expect] of [[proxy.imapPort, /\* BYE /], [proxy.submissionPort, /421 /]] as const) {
    const s = net.connect(port, '127.0.0.1');
    t.teardown(() => s.destroy());
    let got = '';
    s.on('data', (d) => { got += d.toString(); });
    const started = Date.now();
    const drip = setInterval(() => s.write('N'), 250); // never a full line, never idle
    await new Promise((r) => s.once('close', r));
    clearInterval(drip);
    const took = Date.now() - started;
    t.ok(took >= 2900 && took < 6000, `closed after ${took} ms (deadline 3 s)`);
    t.match(got, expect, 'with a reply saying why');
  }
});

// ---- POP3 and ManageSieve ---------------------------------------------------------------
// The same attacks on the two newer fronts; each ends in a protocol reply or a close, and
// the proxy goes on serving.

const pop3Port = (): number => proxy.server.port('pop3');
const pop3sPort = (): number => proxy.server.port('pop3s');

async function pop3s(): Promise<RawPop3> {
  const c = await RawPop3.connect(pop3sPort(), { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  return c;
}
/** ManageSieve after STARTTLS (the greeting's and the second capability list read). */
async function sieve(secure = true): Promise<RawSieve> {
  const c = await RawSieve.connect(proxy.managesievePort);
  t.teardown(() => c.close());
  await c.response();
  if (secure) await c.startTls(ca);
  return c;
}

t.test('POP3, ManageSieve: an HTTP request or CONNECT on the port is ended at once', async (t) => {
  for (const req of ['GET / HTTP/1.1\r\nHost: mail.example\r\n\r\n', 'CONNECT mail.example:443 HTTP/1.1\r\nHost: mail.example:443\r\n\r\n']) {
    const p = await RawPop3.connect(pop3Port());
    t.teardown(() => p.close());
    await p.line();
    p.write(req);
    t.match(await p.line(), /^-ERR .*HTTP/i, `POP3: ${req.split(' ')[0]}`);
    t.ok(await p.waitClosed(2000), 'and closed');
    const s = await sieve(false);
    s.write(req);
    t.match((await s.response()).response, /^BYE .*HTTP/i, `ManageSieve: ${req.split(' ')[0]}`);
    t.ok(await s.waitClosed(2000), 'and closed');
  }
});

t.test('ManageSieve STARTTLS with pipelined plaintext: the plaintext is discarded (CVE-2011-0411 class)', async (t) => {
  const s = await sieve(false);
  s.write(`STARTTLS\r\nAUTHENTICATE "PLAIN" "${b64(`\0${alice.email}\0${alice.password}`)}"\r\nNOOP "injected"\r\n`);
  t.match((await s.response()).response, /^OK /, 'STARTTLS');
  await s.upgradeTls(ca);
  t.match((await s.response()).response, /^OK /, 'capabilities again after TLS');
  const r = await s.command('NOOP "mine"');
  t.match(r.response, /^OK \(TAG "mine"\)/, 'the next reply is to our NOOP: nothing pipelined before TLS was run');
});

t.test('POP3, ManageSieve: oversized lines, SASL responses and literals are refused; the proxy keeps serving', async (t) => {
  const big = 'A'.repeat(3_000_000);
  const p1 = await pop3s();
  p1.write(`AUTH XOAUTH2 ${big}\r\n`); // a 3 MB initial response
  t.match(await p1.line(), /^-ERR Line too long/);
  t.ok(await p1.waitClosed(2000));
  const p2 = await pop3s();
  p2.write('AUTH XOAUTH2\r\n');
  t.match(await p2.line(), /^\+ /);
  p2.write(`${big}\r\n`); // a 3 MB continuation line
  t.match(await p2.line(), /^-ERR Line too long/);
  t.ok(await p2.waitClosed(2000));
  const s1 = await sieve();
  s1.write('AUTHENTICATE "XOAUTH2" {4000000000+}\r\n'); // a 4 GB non-synchronizing literal, announced
  t.match((await s1.response()).response, /^BYE .*too big/i);
  t.ok(await s1.waitClosed(2000));
  const s2 = await sieve();
  s2.write(`AUTHENTICATE "XOAUTH2" {${big.length}+}\r\n${big}\r\n`); // and sent
  t.match((await s2.response()).response, /^BYE .*too big/i);
  const s3 = await sieve();
  s3.write(`AUTHENTICATE "XOAUTH2" "${big}"\r\n`); // a 3 MB quoted string: the line is skipped
  t.match((await s3.response()).response, /^NO .*too long/i);
  t.match((await s3.command('NOOP')).response, /^OK/, 'the session goes on');
  const s4 = await sieve();
  s4.write('AUTHENTICATE "XOAUTH2"\r\n');
  t.equal(await s4.challenge(), '', 'empty challenge');
  s4.write(`${literal(big)}\r\n`); // a 3 MB SASL continuation as a literal
  t.match((await s4.response()).response, /^BYE .*too big/i);
  const ok = await sieve();
  t.match((await ok.command(`AUTHENTICATE "XOAUTH2" "${xoauth2(alice.email, await idp.mintToken(alice.email))}"`)).response, /^OK /, 'ManageSieve still logs in');
  const okp = await pop3s();
  t.match(await okp.command(`AUTH XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}`), /^\+OK /, 'POP3 still logs in');
  await stillServing(t);
});

t.test("POP3, ManageSieve: alice's token or password does not log in as bob (authzid, a=, user=)", async (t) => {
  const tok = await idp.mintToken(alice.email);
  const plainAsBob = b64(`${bob.email}\0${alice.email}\0${alice.password}`);
  // POP3: each refused, never +OK.
  const p1 = await pop3s();
  t.match(await p1.command(`AUTH PLAIN ${plainAsBob}`), /^-ERR \[AUTH\]/, 'POP3 PLAIN authzid=bob');
  for (const [mech, ir] of [['OAUTHBEARER', oauthbearer(bob.email, tok)], ['XOAUTH2', xoauth2(bob.email, tok)]] as const) {
    const p = await pop3s();
    t.match(await p.command(`AUTH ${mech} ${ir}`), /^\+ /, `POP3 ${mech}: the error challenge`);
    t.match(await p.command(''), /^-ERR \[AUTH\]/, 'then refused');
  }
  // ManageSieve likewise.
  const s1 = await sieve();
  t.match((await s1.command(`AUTHENTICATE "PLAIN" "${plainAsBob}"`)).response, /^NO /, 'ManageSieve PLAIN authzid=bob');
  for (const [mech, ir] of [['OAUTHBEARER', oauthbearer(bob.email, tok)], ['XOAUTH2', xoauth2(bob.email, tok)]] as const) {
    const s = await sieve();
    s.write(`AUTHENTICATE "${mech}" "${ir}"\r\n`);
    t.type(await s.challenge(), 'string', `ManageSieve ${mech}: the error challenge`);
    t.match((await s.command('""')).response, /^NO /, 'then refused');
  }
  t.notOk(proxy.logs().some((l) => l.event === 'login' && l.user === bob.email), 'no login as bob');
});

t.test('POP3, ManageSieve: a PROXY header from an untrusted client is a command, not an address', async (t) => {
  const p = await RawPop3.connect(pop3Port());
  t.teardown(() => p.close());
  await p.line();
  t.match(await p.command('PROXY TCP4 203.0.113.9 127.0.0.1 1234 110'), /^-ERR /);
  const s = await sieve(false);
  t.match((await s.command('PROXY TCP4 203.0.113.9 127.0.0.1 1234 4190')).response, /^NO /);
  t.match((await s.command('NOOP')).response, /^OK/, 'the session goes on');
});

t.test('POP3, ManageSieve: FIN right after the greeting closes at once', async (t) => {
  for (const c of [await RawPop3.connect(pop3Port()), await RawSieve.connect(proxy.managesievePort)]) {
    t.teardown(() => c.close());
    await c.line();
    c.socket.end();
    t.ok(await c.waitClosed(1000), 'closed within a second, not at the pre-login timeout');
  }
});

t.test('slowloris (a byte at a time) is cut by the pre-login deadline, POP3 (plain and 995) and ManageSieve', async (t) => {
  const drip = async (port: number, implicitTls: boolean, expect: RegExp): Promise<void> => {
    const raw = net.connect(port, '127.0.0.1');
    t.teardown(() => raw.destroy());
    const s: net.Socket = implicitTls ? tls.connect({ socket: raw, ca, servername: 'localhost' }) : raw;
    s.on('error', () => undefined);
    let got = '';
    s.on('data', (d) => { got += d.toString(); });
    const started = Date.now();
    const timer = setInterval(() => s.write('N'), 250);
    await new Promise((r) => s.once('close', r));
    clearInterval(timer);
    const took = Date.now() - started;
    t.ok(took >= 2900 && took < 6000, `port ${port}: closed after ${took} ms (deadline 3 s)`);
    t.match(got, expect, 'with a reply saying why');
  };
  await Promise.all([drip(pop3Port(), false, /-ERR /), drip(pop3sPort(), true, /-ERR /), drip(proxy.managesievePort, false, /BYE /)]);
});

// After the login the client talks to Dovecot through the splice, unread by the proxy. A
// second login there (UNAUTHENTICATE, RFC 8437 / RFC 5804 §2.14.1, then AUTHENTICATE or LOGIN
// with bob's password) would get past our token checks, failure limits and SCIM deactivation:
// Dovecot trusts the proxy's address. Dovecot 2.3 refuses each one; this keeps it so.
t.test('after login, no second login through the splice (IMAP, POP3, ManageSieve)', async (t) => {
  const bobPlain = b64(`\0${bob.email}\0${bob.password}`);
  const c = await imaps();
  t.match((await c.command(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}`)).tagged, /^a1 OK /);
  for (const [tag, cmd] of [['a2', 'UNAUTHENTICATE'], ['a3', `LOGIN "${bob.email}" "${bob.password}"`], ['a4', `AUTHENTICATE PLAIN ${bobPlain}`]]) {
    t.match((await c.command(`${tag} ${cmd}`)).tagged, new RegExp(`^${tag} (BAD|NO) `), `IMAP ${cmd.split(' ')[0]} refused`);
  }
  const p = await pop3s();
  t.match(await p.command(`AUTH XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}`), /^\+OK /);
  for (const cmd of [`USER ${bob.email}`, `PASS ${bob.password}`, `AUTH PLAIN ${bobPlain}`]) t.match(await p.command(cmd), /^-ERR /, `POP3 ${cmd.split(' ')[0]} refused`);
  const s = await sieve();
  t.match((await s.command(`AUTHENTICATE "XOAUTH2" "${xoauth2(alice.email, await idp.mintToken(alice.email))}"`)).response, /^OK /);
  for (const cmd of ['UNAUTHENTICATE', `AUTHENTICATE "PLAIN" "${bobPlain}"`]) t.match((await s.command(cmd)).response, /^NO /, `ManageSieve ${cmd.split(' ')[0]} refused`);
  t.match((await s.command('LISTSCRIPTS')).response, /^OK/, 'still alice, still working');
});
