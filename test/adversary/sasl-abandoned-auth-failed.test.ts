// Adversary finding: a SASL exchange the proxy itself ends (the pre-login deadline, a
// shutdown) is logged and counted as a failed login. When the session closes while a
// continuation is awaited, the waiting exchange is failed with a SASL syntax error, which
// the login flow takes for a malformed response: an `auth-failed` line ("malformed PLAIN
// response (ERR_SASL_SYNTAX)"), which the shipped Fail2Ban filter counts, and a failure
// against the client's address in the per-IP limit (AUTH_FAIL_MAX_PER_IP). No credential
// was tried: the client only said `AUTH PLAIN` and went quiet (a phone losing coverage
// between the command and its response, a client shut down by a rolling restart). A client
// that closes the connection itself at the same point is counted nothing. A few stalled
// exchanges lock the address out (every user behind a NAT), and its logins after that are
// refused though none failed.
//
// POP3 (995), ManageSieve (4190 after STARTTLS) and IMAP (993) share the flow.
import t from 'tap';
import { RawClient, b64, xoauth2 } from '../harness/raw-imap.js';
import { RawPop3 } from '../harness/raw-pop3.js';
import { RawSieve } from '../harness/raw-sieve.js';
import { startStack } from '../harness/stack.js';
import { startProxy } from '../harness/proxy.js';

const MAX_PER_IP = 3; // as many as the stalled exchanges below
const { backend, idp, proxy, ca, alice } = await startStack(t, {
  proxyEnv: {
    PREAUTH_TIMEOUT_SECONDS: '2',
    AUTH_FAIL_MAX_PER_IP: String(MAX_PER_IP),
    LISTEN_POP3S: '127.0.0.1:0', LISTEN_MANAGESIEVE: '127.0.0.1:0',
  },
});

const authFailed = (): Array<Record<string, unknown>> => proxy.logs().filter((l) => l.event === 'auth-failed');

t.test('a continuation the client never answers, ended by the pre-login deadline: no auth-failed, no failure counted', async (t) => {
  // All at once, each with its own deadline: IMAP, POP3, ManageSieve.
  const stalls: Array<Promise<void>> = [(async () => {
    const imap = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
    t.teardown(() => imap.close());
    await imap.line();
    imap.socket.write('a1 AUTHENTICATE PLAIN\r\n');
    t.match(await imap.line(), /^\+/, 'IMAP: the continuation');
    t.match(await imap.line(4000), /^\* BYE .*inactivity/i, 'IMAP: ended by the deadline');
  })()];
  stalls.push((async () => {
    const pop = await RawPop3.connect(proxy.server.port('pop3s'), { implicitTls: true, ca });
    t.teardown(() => pop.close());
    await pop.line();
    t.match(await pop.command('AUTH PLAIN'), /^\+/, 'POP3: the continuation');
    t.match(await pop.line(4000), /^-ERR .*inactivity/i, 'POP3: ended by the deadline');
  })(), (async () => {
    const sieve = await RawSieve.connect(proxy.managesievePort);
    t.teardown(() => sieve.close());
    await sieve.response();
    await sieve.startTls(ca);
    sieve.write('AUTHENTICATE "PLAIN"\r\n');
    t.equal(await sieve.challenge(), '', 'ManageSieve: the empty challenge');
    t.match((await sieve.response(4000)).response, /^BYE .*inactivity/i, 'ManageSieve: ended by the deadline');
  })());
  await Promise.all(stalls);
  await new Promise((r) => setTimeout(r, 300));
  t.same(authFailed().map((l) => `${String(l.proto)}: ${String(l.reason)}`), [], 'no credential was tried: no auth-failed line for Fail2Ban');
  // The address is not blocked: its next login, with a good token, goes through.
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca }).catch((err: Error) => err);
  if (c instanceof Error) return t.fail(`the address's next connection is refused as blocked (${c.message})`);
  t.teardown(() => c.close());
  t.match(await c.line(), /^\* OK/, 'the next connection from the address is greeted');
  t.match((await c.command(`z1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}`)).tagged, /^z1 OK /, 'and logs in');
});

t.test('a continuation awaited when the proxy shuts down: no auth-failed', async (t) => {
  const other = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env: { LISTEN_POP3S: '127.0.0.1:0' } });
  t.teardown(() => other.stop());
  const otherCa = (await import('node:fs')).readFileSync(other.certs.caFile, 'utf8');
  const imap = await RawClient.connect(other.imapsPort, { implicitTls: true, ca: otherCa });
  t.teardown(() => imap.close());
  await imap.line();
  imap.socket.write('a1 AUTHENTICATE PLAIN\r\n');
  t.match(await imap.line(), /^\+/, 'IMAP: the continuation');
  const pop = await RawPop3.connect(other.server.port('pop3s'), { implicitTls: true, ca: otherCa });
  t.teardown(() => pop.close());
  await pop.line();
  t.match(await pop.command('AUTH XOAUTH2'), /^\+/, 'POP3: the continuation');
  await other.stop();
  t.same(other.logs().filter((l) => l.event === 'auth-failed').map((l) => `${String(l.proto)}: ${String(l.reason)}`), [], 'the shutdown is no failed login');
});

t.test('control: a response that is really malformed is still refused and logged', async (t) => {
  // From an address of its own, so that it does not depend on the test above.
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca, localAddress: '127.0.0.2' });
  t.teardown(() => c.close());
  await c.line();
  const before = authFailed().length;
  t.match((await c.command(`a1 AUTHENTICATE PLAIN ${b64('no-nul-here')}`)).tagged, /^a1 NO /);
  t.equal(authFailed().length, before + 1, 'a PLAIN response without its NULs is a failed login');
});
