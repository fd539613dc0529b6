// IMAP end to end: real clients → proxy (real TLS) → real Dovecot, tokens from a real
// OpenID provider. Every mechanism, both TLS forms, SASL-IR and the continuation round trip.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { RawClient, b64, oauthbearer, xoauth2 } from '../harness/raw-imap.js';
import { startStack } from '../harness/stack.js';
import { startProxy } from '../harness/proxy.js';
import { readFileSync } from 'node:fs';
import { dovecotLoginLine } from '../harness/flavour.js';

const { backend, idp, proxy, ca, alice, bob, secrets } = await startStack(t);

function flow(opts: { secure: boolean; auth: ImapFlowOptions['auth'] }): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port: opts.secure ? proxy.imapsPort : proxy.imapPort,
    secure: opts.secure,
    doSTARTTLS: opts.secure ? undefined : true,
    tls: { ca, servername: 'localhost' },
    auth: opts.auth,
    logger: false,
    disableAutoIdle: true,
    clientInfo: { name: 'tap', version: '1' },
  });
}

async function token(email: string): Promise<string> {
  const tok = await idp.mintToken(email);
  secrets.push(tok);
  return tok;
}

t.test('OAUTHBEARER with imapflow over STARTTLS: mailbox works, backend capabilities seen', async (t) => {
  const client = flow({ secure: false, auth: { user: alice.email, accessToken: await token(alice.email) } });
  await client.connect();
  t.teardown(() => client.close());
  t.ok(client.capabilities.has('IDLE'), 'IDLE from the backend');
  t.ok(client.capabilities.has('MOVE'), 'MOVE from the backend');
  t.ok(client.capabilities.has('CONDSTORE'), 'CONDSTORE from the backend');
  const lock = await client.getMailboxLock('INBOX');
  try {
    const subject = `hello ${randomBytes(4).toString('hex')}`;
    await client.append('INBOX', `From: ${alice.email}\r\nTo: ${alice.email}\r\nSubject: ${subject}\r\n\r\nbody\r\n`);
    const found = await client.search({ header: { subject } });
    t.equal((found || []).length, 1, 'APPENDed message found by SEARCH');
    // IDLE through the splice: the server answers "+ idling", DONE ends it.
    const idle = client.idle();
    await new Promise((r) => setTimeout(r, 200));
    await client.noop();
    await idle;
    t.pass('IDLE round trip');
  } finally {
    lock.release();
  }
  await client.logout();
});

t.test('OAUTHBEARER with imapflow over implicit TLS', async (t) => {
  const client = flow({ secure: true, auth: { user: bob.email, accessToken: await token(bob.email) } });
  await client.connect();
  const status = await client.status('INBOX', { messages: true });
  t.type(status && status.messages, 'number');
  await client.logout();
});

t.test('XOAUTH2 with SASL-IR over implicit TLS (raw client)', async (t) => {
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  t.teardown(() => c.close());
  t.match(await c.line(), /^\* OK \[CAPABILITY [^\]]*AUTH=XOAUTH2/);
  const r = await c.command(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, await token(alice.email))}`);
  t.match(r.tagged, /^a1 OK \[CAPABILITY [^\]]*IDLE[^\]]*\] Logged in/);
  const sel = await c.command('a2 SELECT INBOX');
  t.match(sel.tagged, /^a2 OK \[READ-WRITE\]/);
  t.match((await c.command('a3 LOGOUT')).untagged.join('\n'), /BYE/);
});

t.test('DMS_HOST as a name, as DMS users set it (`mailserver`): resolved, and the login works', async (t) => {
  const named = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env: { DMS_HOST: 'localhost', DMS_TLS_SERVERNAME: 'localhost' } });
  t.teardown(() => named.stop());
  for (const user of [alice, bob]) {
    const c = await RawClient.connect(named.imapsPort, { implicitTls: true, ca: readFileSync(named.certs.caFile, 'utf8') });
    t.teardown(() => c.close());
    await c.line();
    t.match((await c.command(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(user.email, await token(user.email))}`)).tagged, /^a1 OK /, `${user.email} logged in through localhost`);
    t.match((await c.command('a2 SELECT INBOX')).tagged, /^a2 OK /);
  }
});

t.test('XOAUTH2 and OAUTHBEARER with the continuation round trip over STARTTLS', async (t) => {
  for (const [mech, encode] of [['XOAUTH2', xoauth2], ['OAUTHBEARER', oauthbearer]] as const) {
    const c = await RawClient.connect(proxy.imapPort);
    t.match(await c.line(), /STARTTLS/);
    t.match(await c.startTls(ca), /OK/);
    c.write(`b1 AUTHENTICATE ${mech}\r\n`);
    t.equal(await c.line(), '+ ', `${mech}: empty continuation`);
    c.write(`${encode(bob.email, await token(bob.email))}\r\n`);
    t.match((await c.until('b1')).tagged, /^b1 OK \[CAPABILITY /, `${mech}: logged in`);
    t.match((await c.command('b2 NOOP')).tagged, /^b2 OK/);
    c.close();
  }
});

t.test('OAUTHBEARER without an authzid (n,,) is accepted: the identity comes from the token', async (t) => {
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  const tok = await token(alice.email);
  const r = await c.command(`c1 AUTHENTICATE OAUTHBEARER ${b64(`n,,\x01auth=Bearer ${tok}\x01\x01`)}`);
  t.match(r.tagged, /^c1 OK /);
});

t.test('passwords pass through: LOGIN, AUTHENTICATE PLAIN (imapflow) and AUTHENTICATE LOGIN (raw)', async (t) => {
  for (const loginMethod of ['LOGIN', 'AUTH=PLAIN'] as const) {
    const client = flow({ secure: false, auth: { user: alice.email, pass: alice.password, loginMethod } });
    await client.connect();
    t.ok(client.capabilities.has('IDLE'), `${loginMethod}: logged in with backend capabilities`);
    await client.logout();
  }
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  c.write('d1 AUTHENTICATE LOGIN\r\n');
  t.equal(await c.line(), '+ VXNlcm5hbWU6');
  c.write(`${b64(bob.email)}\r\n`);
  t.equal(await c.line(), '+ UGFzc3dvcmQ6');
  c.write(`${b64(bob.password)}\r\n`);
  t.match((await c.until('d1')).tagged, /^d1 OK \[CAPABILITY /);
  const wrong = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  t.teardown(() => wrong.close());
  await wrong.line();
  t.match((await wrong.command(`e1 LOGIN ${alice.email} "not-the-password"`)).tagged, /^e1 NO \[AUTHENTICATIONFAILED\]/);
});

t.test('LOGIN with literals {n} and {n+}', async (t) => {
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  c.write(`f1 LOGIN {${alice.email.length}}\r\n`);
  t.match(await c.line(), /^\+ /, 'synchronizing literal gets a continuation');
  c.write(`${alice.email} {${Buffer.byteLength(alice.password)}+}\r\n${alice.password}\r\n`);
  t.match((await c.until('f1')).tagged, /^f1 OK \[CAPABILITY /);
});

t.test('a 1 MiB message round-trips byte for byte through the splice', async (t) => {
  const client = flow({ secure: true, auth: { user: bob.email, accessToken: await token(bob.email) } });
  await client.connect();
  t.teardown(() => client.close());
  const marker = randomBytes(8).toString('hex');
  const body = randomBytes(768 * 1024).toString('base64').replace(/.{76}/g, '$&\r\n');
  const message = Buffer.from(`From: ${bob.email}\r\nTo: ${bob.email}\r\nSubject: big ${marker}\r\nContent-Transfer-Encoding: base64\r\n\r\n${body}\r\n`);
  t.ok(message.length >= 1024 * 1024, 'message is at least 1 MiB');
  const appended = await client.append('INBOX', message);
  t.ok(appended && appended.uid, 'APPEND returned a UID');
  await client.mailboxOpen('INBOX');
  const msg = await client.fetchOne(String((appended as { uid: number }).uid), { source: true }, { uid: true });
  t.ok(msg && msg.source && Buffer.compare(msg.source, message) === 0, 'fetched bytes equal appended bytes');
  await client.logout();
});

t.test("the client's address reaches Dovecot (ID x-originating-ip), not the proxy's", async (t) => {
  // The proxy dials Dovecot from 127.0.0.1; this client comes from 127.0.0.2.
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca, localAddress: '127.0.0.2' });
  t.teardown(() => c.close());
  await c.line();
  t.match((await c.command(`g1 AUTHENTICATE XOAUTH2 ${xoauth2(bob.email, await token(bob.email))}`)).tagged, /^g1 OK /);
  const line = (await backend.dovecotLog()).split('\n').filter((l) => new RegExp(dovecotLoginLine(bob.email)).test(l)).at(-1);
  t.match(line, /rip=127\.0\.0\.2/, 'Dovecot logs the client address');
  t.match(line, /lip=127\.0\.0\.1/);
  const ours = proxy.logs().filter((l) => l.event === 'login' && l.client === '127.0.0.2');
  t.equal(ours.length, 1, 'our login event carries the client address too');
});

t.test('logs: one login event per login, a session summary, and no secret anywhere', async (t) => {
  await new Promise((r) => setTimeout(r, 300));
  const logs = proxy.logs();
  const logins = logs.filter((l) => l.event === 'login');
  t.ok(logins.length >= 8, `login events logged (${logins.length})`);
  t.ok(logins.every((l) => typeof l.user === 'string' && typeof l.mech === 'string'));
  const ends = logs.filter((l) => l.event === 'session-end' && l.user);
  t.ok(ends.length >= 1, 'session summaries logged');
  t.ok(ends.every((l) => typeof l.bytesIn === 'number' && typeof l.bytesOut === 'number' && typeof l.durationMs === 'number'));
  const raw = proxy.rawLogs() + (await backend.dovecotLog());
  for (const s of secrets) t.notOk(raw.includes(s), 'no token or password in any log line');
});
