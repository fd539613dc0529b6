// IMAP refusals, each its own test: bad tokens, wrong user, IdP down or hanging, plaintext
// before TLS, oversized input, STARTTLS injection, backend down. Nothing secret in logs.
import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { startProxy, type TestProxy } from '../harness/proxy.js';
import { RawClient, b64, oauthbearer, xoauth2 } from '../harness/raw-imap.js';
import { startStack } from '../harness/stack.js';
import { DOVECOT_LOGGED_IN } from '../harness/flavour.js';

const { backend, idp, proxy, ca, alice, bob, secrets } = await startStack(t);

async function tlsClient(p: TestProxy = proxy): Promise<RawClient> {
  const c = await RawClient.connect(p.imapsPort, { implicitTls: true, ca: readFileSync(p.certs.caFile, 'utf8') });
  t.teardown(() => c.close());
  await c.line();
  return c;
}

function decodeChallenge(line: string): Record<string, string> {
  return JSON.parse(Buffer.from(line.slice(2), 'base64').toString('utf8')) as Record<string, string>;
}

t.test('garbage token: RFC 7628 error challenge, then NO [AUTHENTICATIONFAILED]', async (t) => {
  const c = await tlsClient();
  c.write(`a1 AUTHENTICATE OAUTHBEARER ${oauthbearer(alice.email, 'garbage.token.value')}\r\n`);
  const ch = await c.line();
  t.match(ch, /^\+ /);
  t.same(decodeChallenge(ch).status, 'invalid_token');
  c.write('AQ==\r\n');
  t.match((await c.until('a1')).tagged, /^a1 NO \[AUTHENTICATIONFAILED\]/);
});

t.test('XOAUTH2 failure: Google-style {"status":"401"} challenge; an empty reply ends it', async (t) => {
  const c = await tlsClient();
  c.write(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, 'garbage')}\r\n`);
  const ch = await c.line();
  t.same(decodeChallenge(ch).status, '401');
  c.write('\r\n');
  t.match((await c.until('a1')).tagged, /^a1 NO \[AUTHENTICATIONFAILED\]/);
});

t.test('expired token is refused', async (t) => {
  const tok = await idp.mintToken(alice.email, { expiresInSeconds: 1 });
  secrets.push(tok);
  await new Promise((r) => setTimeout(r, 2100));
  const c = await tlsClient();
  c.write(`a1 AUTHENTICATE OAUTHBEARER ${oauthbearer(alice.email, tok)}\r\n`);
  await c.line();
  c.write('*\r\n');
  t.match((await c.until('a1')).tagged, /^a1 NO \[AUTHENTICATIONFAILED\]/);
});

t.test("alice's token presented for bob is refused, and bob's mailbox is not opened", async (t) => {
  const tok = await idp.mintToken(alice.email);
  secrets.push(tok);
  const logBefore = (await backend.dovecotLog()).length;
  for (const encode of [oauthbearer, xoauth2]) {
    const c = await tlsClient();
    c.write(`a1 AUTHENTICATE ${encode === oauthbearer ? 'OAUTHBEARER' : 'XOAUTH2'} ${encode(bob.email, tok)}\r\n`);
    t.match(await c.line(), /^\+ /);
    c.write('\r\n');
    t.match((await c.until('a1')).tagged, /^a1 NO \[AUTHENTICATIONFAILED\]/);
  }
  await new Promise((r) => setTimeout(r, 200));
  t.notMatch((await backend.dovecotLog()).slice(logBefore), new RegExp(`${DOVECOT_LOGGED_IN}user=<`), 'the backend saw no login at all');
  const failed = proxy.logs().filter((l) => l.event === 'auth-failed' && /not to the requested user/.test(String(l.reason)));
  t.ok(failed.length >= 2, 'the log says why');
});

t.test('a valid token for a user DMS does not have: NO [AUTHENTICATIONFAILED] with a log line saying why', async (t) => {
  idp.addAccount({ email: 'nobody@example.test' });
  const tok = await idp.mintToken('nobody@example.test');
  secrets.push(tok);
  const c = await tlsClient();
  const r = await c.command(`a1 AUTHENTICATE XOAUTH2 ${xoauth2('nobody@example.test', tok)}`);
  t.match(r.tagged, /^a1 NO \[AUTHENTICATIONFAILED\]/);
  t.ok(proxy.logs().some((l) => l.event === 'auth-failed' && /no such DMS account/.test(String(l.reason))));
});

t.test('IdP down (connection refused) → NO [UNAVAILABLE], no challenge', async (t) => {
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const p = await startProxy({ backend, userinfoUrl: `http://127.0.0.1:${port}/userinfo` });
  t.teardown(() => p.stop());
  const c = await tlsClient(p);
  const r = await c.command(`a1 AUTHENTICATE OAUTHBEARER ${oauthbearer(alice.email, await idp.mintToken(alice.email))}`);
  t.match(r.tagged, /^a1 NO \[UNAVAILABLE\]/);
});

t.test('IdP hanging → NO [UNAVAILABLE] within the configured time', async (t) => {
  const hanging = http.createServer(() => undefined); // accepts, never answers
  await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
  t.teardown(() => { hanging.closeAllConnections(); hanging.close(); });
  const url = `http://127.0.0.1:${(hanging.address() as net.AddressInfo).port}/userinfo`;
  const p = await startProxy({ backend, userinfoUrl: url, env: { OAUTH2_TIMEOUT_MS: '500' } });
  t.teardown(() => p.stop());
  const c = await tlsClient(p);
  const started = Date.now();
  const r = await c.command(`a1 AUTHENTICATE OAUTHBEARER ${oauthbearer(alice.email, 'some-token')}`, 5000);
  const took = Date.now() - started;
  t.match(r.tagged, /^a1 NO \[UNAVAILABLE\]/);
  t.ok(took >= 450 && took < 2000, `answered after ${took} ms (timeout 500 ms)`);
});

t.test('plaintext auth before STARTTLS: LOGINDISABLED, LOGIN and AUTHENTICATE refused', async (t) => {
  const c = await RawClient.connect(proxy.imapPort);
  t.teardown(() => c.close());
  const greeting = await c.line();
  t.match(greeting, /LOGINDISABLED/);
  t.notMatch(greeting, /AUTH=/);
  t.match((await c.command(`a1 LOGIN ${alice.email} ${alice.password}`)).tagged, /^a1 NO \[PRIVACYREQUIRED\]/);
  t.match((await c.command(`a2 AUTHENTICATE PLAIN ${b64(`\0${alice.email}\0${alice.password}`)}`)).tagged, /^a2 NO \[PRIVACYREQUIRED\]/);
});

t.test('a line over the limit gets BAD and the session goes on; at the limit it is parsed', async (t) => {
  const max = 32768;
  const c = await tlsClient();
  c.write(`l1 NOOP ${'x'.repeat(max + 10)}\r\n`);
  t.match((await c.line()).toString(), /^l1 BAD .*too long/i);
  const atCap = `l2 ID ("name" "${'y'.repeat(Math.min(1000, max))}")`;
  t.match((await c.command(atCap)).tagged, /^l2 OK/);
  t.match((await c.command('l3 NOOP')).tagged, /^l3 OK/);
});

t.test('a literal over the limit is refused before "+"', async (t) => {
  const c = await tlsClient();
  c.write(`m1 LOGIN {${16384 + 1}}\r\n`);
  const reply = await c.line();
  t.match(reply, /^m1 BAD \[TOOBIG\]/, 'refused, no continuation');
  c.write(`m2 LOGIN {16384}\r\n`);
  t.match(await c.line(), /^\+ /, 'a literal at the limit gets "+"');
  c.write(`${'u'.repeat(16384)} x\r\n`);
  t.match((await c.until('m2')).tagged, /^m2 NO \[AUTHENTICATIONFAILED\]/);
});

t.test('commands pipelined after STARTTLS are discarded', async (t) => {
  const c = await RawClient.connect(proxy.imapPort);
  t.teardown(() => c.close());
  await c.line();
  // The injected LOGIN would run as the TLS client's command if it were kept.
  c.write(`s1 STARTTLS\r\ns2 LOGIN ${alice.email} ${alice.password}\r\n`);
  t.match(await c.line(), /^s1 OK/);
  const tls = await import('node:tls');
  const secure = tls.connect({ socket: c.socket, ca, servername: 'localhost' });
  const got: string[] = [];
  secure.on('data', (d: Buffer) => got.push(d.toString()));
  await new Promise<void>((r, j) => { secure.once('secureConnect', () => r()); secure.once('error', j); });
  secure.write('s3 NOOP\r\n');
  await new Promise((r) => setTimeout(r, 500));
  const text = got.join('');
  t.notMatch(text, /s2 /, 'the pipelined LOGIN got no reply');
  t.match(text, /s3 OK/);
  secure.destroy();
});

t.test('bad-command budget: BYE after too many invalid commands', async (t) => {
  const c = await tlsClient();
  for (let i = 0; i < 19; i++) c.write(`z${i} FROBNICATE\r\n`);
  c.write('z19 FROBNICATE\r\n');
  const lines: string[] = [];
  for (;;) {
    try { lines.push(await c.line(2000)); } catch { break; }
  }
  t.match(lines.at(-1), /^\* BYE /);
  await c.closedPromise;
  t.ok(c.closed);
});

t.test('backend down → NO [UNAVAILABLE]; the proxy keeps serving others', async (t) => {
  const dead = { ...backend, imapPort: 1 };
  const p = await startProxy({ backend: dead, userinfoUrl: idp.userinfoUrl });
  t.teardown(() => p.stop());
  const tok = await idp.mintToken(alice.email);
  secrets.push(tok);
  const c = await tlsClient(p);
  t.match((await c.command(`a1 AUTHENTICATE OAUTHBEARER ${oauthbearer(alice.email, tok)}`)).tagged, /^a1 NO \[UNAVAILABLE\]/);
  t.match((await c.command('a2 NOOP')).tagged, /^a2 OK/, 'session still usable');
  const ok = await tlsClient();
  t.match((await ok.command(`a3 AUTHENTICATE OAUTHBEARER ${oauthbearer(alice.email, tok)}`)).tagged, /^a3 OK/, 'the main proxy still logs in');
  const e = p.logs().find((l) => l.event === 'backend-unavailable');
  t.ok(e, 'logged');
});

t.test('no token or password in any log line', async (t) => {
  const raw = proxy.rawLogs();
  for (const s of secrets) t.notOk(raw.includes(s), 'secret absent');
  t.ok(raw.length > 0);
});
