// Client faults (issue 7): a client that disconnects at every phase (before the greeting,
// mid-command, mid-literal, during a SASL continuation, while the IdP or the backend login
// is running, mid-splice, inside SMTP DATA), half-closes, or resets. Each case: the replies
// the client could still get are right, the proxy closes every socket of that session
// while it keeps running (client side and backend side), nothing crashes, no unhandled
// rejection, and after the case's proxy is stopped no descriptor is left open.
import t, { type Test } from 'tap';
import net from 'node:net';
import tls from 'node:tls';
import { eventually, startProxy, type TestProxy } from '../harness/proxy.js';
import { RawClient, b64 } from '../harness/raw-imap.js';
import { RawSmtp } from '../harness/raw-smtp.js';
import { fdCount, fdSummary, recordCrashes, settleConnections, settleFds } from './fakes/leaks.js';
import { startFakeIdp } from './fakes/idp.js';
import { SLOW_LOGIN_MS, startFakeBackend } from './fakes/backend.js';
import { caOf, imaps, imapTokenLogin, smtps, smtpTokenLogin } from './fakes/clients.js';
import { startBackendAndIdp } from '../harness/stack.js';

const crashes = recordCrashes();
t.teardown(() => crashes.dispose());
const { backend, idp } = await startBackendAndIdp(t);
const [alice, bob] = backend.users as [typeof backend.users[0], typeof backend.users[0]];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Kit {
  t: Test;
  proxy: TestProxy;
  token(): string;
  /** Backend ports the proxy dials in this case (their sockets must close too). */
  backendPorts: number[];
}

interface CaseOptions {
  /** A fake IdP that answers after this many ms (a client can leave during the call). */
  slowIdpMs?: number;
  /** Fake backends instead of the real one: slow to accept the login (a client can leave during it), or plain serving. */
  fakeBackend?: 'slow-login' | 'serve';
  /** More proxy settings. */
  env?: Record<string, string>;
}

/**
 * One case on its own proxy: `body` runs against it, then the proxy's sockets must all be
 * closed while it still runs, no error event logged, and after stop() no descriptor leaked.
 */
function clientCase(name: string, body: (k: Kit) => Promise<void>, o: CaseOptions = {}): void {
  t.test(name, async (t) => {
    const minted: string[] = [];
    for (let i = 0; i < 4; i++) minted.push(await idp.mintToken(alice.email));
    const fd0 = await settleFds(fdCount(), 500);
    const stops: Array<() => Promise<void>> = [];
    try {
      const fakeIdp = o.slowIdpMs ? await startFakeIdp({ kind: 'ok', email: alice.email, delayMs: o.slowIdpMs }) : undefined;
      if (fakeIdp) stops.push(() => fakeIdp.stop());
      const fakeImap = o.fakeBackend ? await startFakeBackend('imap', o.fakeBackend) : undefined;
      const fakeSmtp = o.fakeBackend ? await startFakeBackend('smtp', o.fakeBackend) : undefined;
      if (fakeImap && fakeSmtp) stops.push(() => fakeImap.stop(), () => fakeSmtp.stop());
      const backendPorts = fakeImap && fakeSmtp ? [fakeImap.port, fakeSmtp.port] : [backend.imapPort, backend.submissionPort];
      const proxy = await startProxy({
        backend: fakeImap && fakeSmtp ? { ...backend, imapPort: fakeImap.port, submissionPort: fakeSmtp.port } : backend,
        userinfoUrl: fakeIdp?.url ?? idp.userinfoUrl,
        env: { ...(fakeImap ? { DMS_TLS: 'none', DMS_SUBMISSION_TLS: 'none' } : {}), ...o.env },
      });
      stops.push(() => proxy.stop());
      const kit: Kit = {
        t,
        proxy,
        backendPorts,
        token() {
          const tok = minted.pop();
          if (!tok) throw new Error('test bug: more tokens needed');
          return tok;
        },
      };
      await body(kit);
      const ports = [proxy.imapPort, proxy.imapsPort, proxy.submissionPort, proxy.submissionsPort, ...backendPorts];
      const left = await settleConnections(ports, 0, 4000);
      t.equal(left, 0, 'every client and backend socket of the case is closed while the proxy keeps running');
      if (fakeImap && fakeSmtp) {
        await eventually(() => fakeImap.open === 0 && fakeSmtp.open === 0, 3000, 'the fake backends to see their connections closed');
        t.pass('the backend connections made for clients that left are closed');
      }
      const errors = proxy.logs().filter((l) => Number(l.level) >= 50);
      t.same(errors.map((l) => l.event), [], 'no error-level log line');
    } finally {
      for (const s of stops.reverse()) await s();
    }
    const fd1 = await settleFds(fd0);
    t.ok(fd1 <= fd0, `no descriptor leaked (${fd0} before, ${fd1} after; ${fdSummary()})`);
  });
}

/** A TLS connection whose TCP socket the test keeps, to reset it (RST) at will. */
async function tlsRaw(port: number, ca: string): Promise<{ raw: net.Socket; secure: tls.TLSSocket; got: () => string }> {
  const raw = net.connect(port, '127.0.0.1');
  raw.on('error', () => undefined);
  const secure = tls.connect({ socket: raw, ca, servername: 'localhost' });
  secure.on('error', () => undefined);
  let text = '';
  secure.on('data', (d: Buffer) => { text += d.toString('latin1'); });
  await new Promise<void>((resolve, reject) => { secure.once('secureConnect', () => resolve()); secure.once('error', reject); });
  return { raw, secure, got: () => text };
}
const until = async (cond: () => boolean, what: string, ms = 3000): Promise<void> => { await eventually(cond, ms, what); };

// ---- before the greeting ----------------------------------------------------------------

clientCase('disconnect before the greeting, on all four ports (TCP close and RST, mid-handshake)', async ({ proxy }) => {
  for (const port of [proxy.imapPort, proxy.imapsPort, proxy.submissionPort, proxy.submissionsPort]) {
    const a = net.connect(port, '127.0.0.1');
    a.on('error', () => undefined);
    await new Promise((r) => a.once('connect', r));
    a.destroy();
    const b = net.connect(port, '127.0.0.1');
    b.on('error', () => undefined);
    await new Promise((r) => b.once('connect', r));
    b.resetAndDestroy();
    // A TLS ClientHello and then nothing: the handshake is left half done.
    const c = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false });
    c.on('error', () => undefined);
    await sleep(20);
    c.destroy();
  }
  await sleep(200);
});

// ---- mid-command, mid-literal --------------------------------------------------------------

clientCase('disconnect mid-command (IMAP line without CRLF, SMTP line without CRLF)', async ({ t, proxy }) => {
  const c = await imaps(proxy);
  c.write('a1 LOGIN alice@example.test "half a pass');
  await sleep(100);
  c.close();
  const s = await smtps(proxy);
  await s.write('MAIL FROM:<alice@exa');
  await sleep(100);
  s.close();
  t.pass('closed mid-command');
});

clientCase('disconnect mid-literal (after "+", part of the body sent)', async ({ t, proxy }) => {
  const c = await imaps(proxy);
  c.write('a1 LOGIN {30}\r\n');
  t.match(await c.line(), /^\+ /, 'continuation for the literal');
  c.write('alice@exa');
  await sleep(100);
  c.close();
  const d = await imaps(proxy);
  d.write('a1 LOGIN {18+}\r\nalice@example.test {40+}\r\nonly-part');
  await sleep(100);
  d.close();
});

// ---- SASL continuations ----------------------------------------------------------------

clientCase('disconnect during a SASL continuation (IMAP and SMTP, before and after the error challenge)', async ({ t, proxy }) => {
  const c = await imaps(proxy);
  c.write('a1 AUTHENTICATE OAUTHBEARER\r\n');
  t.match(await c.line(), /^\+ ?$/, 'IMAP: empty continuation');
  c.close();

  const e = await imaps(proxy);
  e.write(`a1 AUTHENTICATE XOAUTH2 ${b64(`user=${alice.email}\x01auth=Bearer not-a-token\x01\x01`)}\r\n`);
  t.match(await e.line(), /^\+ \S+/, 'IMAP: the error challenge');
  e.close(); // never sends the dummy reply

  const s = await smtps(proxy);
  t.equal((await s.command('AUTH LOGIN')).code, 334, 'SMTP: Username prompt');
  t.equal((await s.command(b64(alice.email))).code, 334, 'SMTP: Password prompt');
  s.close();

  const x = await smtps(proxy);
  t.equal((await x.command(`AUTH XOAUTH2 ${b64(`user=${alice.email}\x01auth=Bearer not-a-token\x01\x01`)}`)).code, 334, 'SMTP: the error challenge');
  x.close();
  await sleep(200);
  t.ok(proxy.logs().filter((l) => l.event === 'auth-failed').length <= 2, 'at most the two rejected tokens logged as failures');
});

// ---- while the login is being decided ----------------------------------------------------

clientCase('disconnect while the IdP is asked (close and RST)', async ({ t, proxy, token }) => {
  const c = await imaps(proxy);
  c.write(`a1 AUTHENTICATE OAUTHBEARER ${b64(`n,a=${alice.email},\x01auth=Bearer ${token()}\x01\x01`)}\r\n`);
  await sleep(150);
  c.close();
  const s = await smtps(proxy);
  await s.write(`AUTH XOAUTH2 ${b64(`user=${alice.email}\x01auth=Bearer ${token()}\x01\x01`)}\r\n`);
  await sleep(150);
  s.close();
  const r = await tlsRaw(proxy.imapsPort, caOf(proxy));
  await until(() => r.got().includes('* OK'), 'greeting');
  r.secure.write(`a1 AUTHENTICATE OAUTHBEARER ${b64(`n,a=${alice.email},\x01auth=Bearer ${token()}\x01\x01`)}\r\n`);
  await sleep(150);
  r.raw.resetAndDestroy();
  await sleep(600); // the IdP answers; the proxy must not go on to the backend for nobody
  t.equal(proxy.logs().filter((l) => l.event === 'login').length, 0, 'no backend login for clients that left');
}, { slowIdpMs: 500 });

clientCase('disconnect during the backend login: the late backend session is closed, not spliced to nobody', async ({ t, proxy, token }) => {
  const c = await imaps(proxy);
  c.write(`a1 AUTHENTICATE OAUTHBEARER ${b64(`n,a=${alice.email},\x01auth=Bearer ${token()}\x01\x01`)}\r\n`);
  const s = await smtps(proxy);
  await s.write(`AUTH XOAUTH2 ${b64(`user=${alice.email}\x01auth=Bearer ${token()}\x01\x01`)}\r\n`);
  await sleep(SLOW_LOGIN_MS / 2);
  c.close();
  s.close();
  await sleep(SLOW_LOGIN_MS); // the fake accepts the logins now
  t.equal(proxy.logs().filter((l) => l.event === 'login').length, 0, 'no login logged for clients that left');
  t.equal(proxy.logs().filter((l) => l.event === 'session-end' && l.user).length, 0, 'no spliced session');
}, { fakeBackend: 'slow-login' });

// ---- logged in ----------------------------------------------------------------------------

clientCase('disconnect mid-splice (close and RST, IMAP and SMTP): the backend connection closes, session-end logged', async ({ t, proxy, token }) => {
  const c = await imaps(proxy);
  t.match(await imapTokenLogin(c, alice.email, token()), /^a1 OK /);
  t.match((await c.command('a2 SELECT INBOX')).tagged, /^a2 OK/);
  c.write('a3 IDLE\r\n');
  t.match(await c.line(), /^\+ /, 'in IDLE');
  c.close();

  const r = await tlsRaw(proxy.imapsPort, caOf(proxy));
  await until(() => r.got().includes('* OK'), 'greeting');
  r.secure.write(`a1 AUTHENTICATE OAUTHBEARER ${b64(`n,a=${alice.email},\x01auth=Bearer ${token()}\x01\x01`)}\r\n`);
  await until(() => /a1 OK/.test(r.got()), 'login');
  r.secure.write('a2 SELECT INBOX\r\n');
  await sleep(50);
  r.raw.resetAndDestroy();

  const s = await smtps(proxy);
  t.equal((await smtpTokenLogin(s, alice.email, token())).code, 235);
  t.equal((await s.command(`MAIL FROM:<${alice.email}>`)).code, 250);
  s.close();

  const sr = await tlsRaw(proxy.submissionsPort, caOf(proxy));
  await until(() => /^220 /m.test(sr.got()), 'SMTP greeting');
  sr.secure.write(`EHLO rst.test\r\nAUTH XOAUTH2 ${b64(`user=${alice.email}\x01auth=Bearer ${token()}\x01\x01`)}\r\n`);
  await until(() => /^235 /m.test(sr.got()), 'SMTP login');
  sr.raw.resetAndDestroy();

  const ends = await eventually(() => {
    const e = proxy.logs().filter((l) => l.event === 'session-end' && l.user === alice.email);
    return e.length >= 4 ? e : null;
  }, 4000, 'four session-end lines');
  for (const e of ends ?? []) t.match(String(e.end), /^client-(closed|error)$/, `session-end end=${String(e.end)}`);
});

clientCase('disconnect inside SMTP DATA: Postfix sees the connection lost, nothing is delivered', async ({ t, proxy, token }) => {
  const s = await smtps(proxy);
  t.equal((await smtpTokenLogin(s, alice.email, token())).code, 235);
  t.equal((await s.command(`MAIL FROM:<${alice.email}>`)).code, 250);
  t.equal((await s.command(`RCPT TO:<${bob.email}>`)).code, 250);
  t.equal((await s.command('DATA')).code, 354);
  await s.write(`From: <${alice.email}>\r\nTo: <${bob.email}>\r\nSubject: cut short\r\n\r\nhalf a mess`);
  await sleep(100);
  s.close();
  await eventually(async () => /lost connection after DATA/.test(await backend.postfixLog()), 4000, 'Postfix to log the lost connection');
  t.pass('Postfix logged "lost connection after DATA"');
  const end = await eventually(() => proxy.logs().find((l) => l.event === 'session-end' && l.proto === 'smtp' && l.user), 3000, 'session-end');
  t.match(String(end?.end), /^client-(closed|error)$/);
});

// ---- half-close and RST --------------------------------------------------------------------

clientCase('half-close before login: the commands sent before the FIN are answered, then the proxy closes', async ({ t, proxy }) => {
  const c = await imaps(proxy);
  c.write('h1 NOOP\r\nh2 CAPABILITY\r\n');
  c.socket.end();
  await Promise.race([c.closedPromise, sleep(3000)]);
  t.ok(c.closed, 'IMAP: the proxy closed its side too');
  t.match(c.pending(), /h1 OK[^\r]*\r\n\* CAPABILITY [^\r]*\r\nh2 OK/, 'IMAP: both answered');

  const s = await smtps(proxy);
  await s.write('NOOP\r\n');
  s.socket.end();
  t.ok(await s.waitClosed(3000), 'SMTP: the proxy closed its side too');
  t.match(s.pending(), /^250 /, 'SMTP: NOOP answered');

  // Plaintext IMAP, FIN right after connect: the greeting may still go out, then close.
  const p = await RawClient.connect(proxy.imapPort);
  p.socket.end();
  await Promise.race([p.closedPromise, sleep(3000)]);
  t.ok(p.closed, 'plain IMAP: closed after the FIN');
});

clientCase('half-close after login (real backend): the FIN reaches Dovecot after the command, Postfix answers', async ({ t, proxy, token }) => {
  const c = await imaps(proxy);
  t.match(await imapTokenLogin(c, alice.email, token()), /^a1 OK /);
  c.write('a2 LOGOUT\r\n');
  c.socket.end();
  await Promise.race([c.closedPromise, sleep(4000)]);
  t.ok(c.closed, 'IMAP: closed');
  // Dovecot itself often drops its reply to a command that arrives together with the TLS
  // close_notify (a Node TLS client straight to Dovecot loses it too), so the reply is
  // checked against the plain fake below; here: LOGOUT ran before the FIN was seen.
  const end = await eventually(() => proxy.logs().find((l) => l.event === 'session-end' && l.proto === 'imap' && l.user), 3000, 'IMAP session-end');
  await eventually(async () => new RegExp(`<${String(end?.cid)}>: Info: Disconnected: Logged out`).test(await backend.dovecotLog()), 3000, 'Dovecot to log the LOGOUT');
  t.pass('Dovecot ran the LOGOUT sent before the FIN');

  const s = await smtps(proxy);
  t.equal((await smtpTokenLogin(s, alice.email, token())).code, 235);
  await s.write('NOOP\r\nQUIT\r\n');
  s.socket.end();
  t.ok(await s.waitClosed(4000), 'SMTP: closed');
  t.match(s.pending(), /^250 [^\r]*\r\n221 /, "SMTP: Postfix's 250 and 221 reach the half-closed client");
});

clientCase('half-close after login (plain backend): the replies sent after the FIN still reach the client', async ({ t, proxy, token }) => {
  const c = await imaps(proxy);
  t.match(await imapTokenLogin(c, alice.email, token()), /^a1 OK /);
  c.write('a2 NOOP\r\na3 LOGOUT\r\n');
  c.socket.end();
  await Promise.race([c.closedPromise, sleep(4000)]);
  t.ok(c.closed, 'IMAP: closed');
  t.match(c.pending(), /a2 OK [^\r]*\r\n\* BYE [^\r]*\r\na3 OK/, 'IMAP: the backend replies reach the half-closed client');
  const s = await smtps(proxy);
  t.equal((await smtpTokenLogin(s, alice.email, token())).code, 235);
  await s.write('NOOP\r\nQUIT\r\n');
  s.socket.end();
  t.ok(await s.waitClosed(4000), 'SMTP: closed');
  t.match(s.pending(), /^250 [^\r]*\r\n221 /, 'SMTP: both replies reach the half-closed client');
  const ends = await eventually(() => {
    const e = proxy.logs().filter((l) => l.event === 'session-end' && l.user === alice.email);
    return e.length >= 2 ? e : null;
  }, 3000, 'two session-end lines');
  t.ok(ends, 'both sessions logged their end');
}, { fakeBackend: 'serve' });

clientCase('RST before login, after the greeting (IMAP and SMTP) and mid-STARTTLS', async ({ t, proxy }) => {
  const ca = caOf(proxy);
  const r = await tlsRaw(proxy.imapsPort, ca);
  await until(() => r.got().includes('* OK'), 'greeting');
  r.secure.write('r1 CAPABILITY\r\n');
  r.raw.resetAndDestroy();
  const s = await tlsRaw(proxy.submissionsPort, ca);
  await until(() => /^220 /m.test(s.got()), 'SMTP greeting');
  s.secure.write('EHLO rst.test\r\n');
  s.raw.resetAndDestroy();
  // Plain 143: STARTTLS accepted, then a reset in the middle of the handshake.
  const p = await RawClient.connect(proxy.imapPort);
  await p.line();
  p.write('s1 STARTTLS\r\n');
  t.match(await p.line(), /^s1 OK/);
  const hs = tls.connect({ socket: p.socket, ca, servername: 'localhost' });
  hs.on('error', () => undefined);
  await sleep(5);
  p.socket.resetAndDestroy();
  const q = await RawSmtp.connect(proxy.submissionPort);
  await q.reply();
  await q.ehlo();
  t.equal((await q.command('STARTTLS')).code, 220);
  const hs2 = tls.connect({ socket: q.socket, ca, servername: 'localhost' });
  hs2.on('error', () => undefined);
  await sleep(5);
  q.socket.resetAndDestroy();
  await sleep(200);
});

// Found by the case above: smtp-server's STARTTLS removed every listener of the plaintext
// socket, the connection-limit release with them, so each 587 STARTTLS session kept its slot.
clientCase('STARTTLS sessions (and resets mid-handshake) on 587 give their connection slot back', async ({ t, proxy }) => {
  const ca = caOf(proxy);
  for (let i = 0; i < 6; i++) {
    const s = await RawSmtp.connect(proxy.submissionPort);
    t.equal((await s.reply()).code, 220, `connection ${i + 1} is greeted (limit 2 per IP)`);
    await s.ehlo();
    if (i % 2) {
      t.equal((await s.startTls(ca)).code, 220);
      await s.ehlo();
      await s.quit();
    } else {
      t.equal((await s.command('STARTTLS')).code, 220);
      const hs = tls.connect({ socket: s.socket, ca, servername: 'localhost' });
      hs.on('error', () => undefined);
      await sleep(5);
      s.socket.resetAndDestroy();
    }
    await settleConnections([proxy.submissionPort], 0, 2000);
  }
}, { env: { MAX_CONNECTIONS_PER_IP: '2' } });

t.test('the proxy logged nothing at error level and nothing crashed', async (t) => {
  t.equal(crashes.describe(), '', 'no unhandled rejection or uncaught exception');
});
