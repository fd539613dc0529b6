// Rate limits and connection limits through the real proxy: growing delays before failure
// replies, blocks per IP and per user with a clear temporary failure, connection caps.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { startBackend } from '../harness/backend.js';
import { startIdp } from '../harness/idp.js';
import { startProxy, type TestProxy } from '../harness/proxy.js';
import { RawClient, xoauth2 } from '../harness/raw-imap.js';

const backend = await startBackend();
t.teardown(() => backend.stop());
const idp = await startIdp();
t.teardown(() => idp.stop());
const [alice, bob] = backend.users as [typeof backend.users[0], typeof backend.users[0]];

async function proxyWith(env: Record<string, string>): Promise<TestProxy> {
  const p = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env });
  t.teardown(() => p.stop());
  return p;
}
/** A failed token login: the proxy itself rejects it, Dovecot (and its own penalty) never sees it. */
async function badToken(c: RawClient, tag: string, user: string, timeoutMs = 5000): Promise<string> {
  c.write(`${tag} AUTHENTICATE XOAUTH2 ${xoauth2(user, `bad-token-${tag}`)}\r\n`);
  const challenge = await c.line(timeoutMs);
  if (!challenge.startsWith('+ ')) return challenge;
  c.write('\r\n');
  return (await c.until(tag, timeoutMs)).tagged;
}

async function client(p: TestProxy, from = '127.0.0.1', port = p.imapsPort): Promise<RawClient> {
  const c = await RawClient.connect(port, { implicitTls: true, ca: readFileSync(p.certs.caFile, 'utf8'), localAddress: from });
  t.teardown(() => c.close());
  return c;
}

t.test('failure replies are delayed, growing per failure from one IP', async (t) => {
  const p = await proxyWith({ AUTH_FAIL_DELAY_MS: '200', AUTH_FAIL_DELAY_MAX_MS: '800', AUTH_FAIL_MAX_PER_IP: '50' });
  const c = await client(p, '127.0.0.11');
  await c.line();
  const took: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = Date.now();
    t.match(await badToken(c, `a${i}`, alice.email, 10_000), /NO \[AUTHENTICATIONFAILED\]/);
    took.push(Date.now() - start);
  }
  t.ok(took[0]! >= 190, `first failure delayed ${took[0]} ms`);
  t.ok(took[1]! >= 390, `second ${took[1]} ms`);
  t.ok(took[2]! >= 790, `third ${took[2]} ms`);
});

t.test('an IP over the threshold is blocked: BYE on IMAP, 421 on SMTP, even with good credentials; other IPs are fine', async (t) => {
  const p = await proxyWith({ AUTH_FAIL_MAX_PER_IP: '3', AUTH_FAIL_DELAY_MS: '0', AUTH_FAIL_BLOCK_SECONDS: '60' });
  for (let i = 0; i < 3; i++) {
    const c = await client(p, '127.0.0.12');
    await c.line();
    t.match(await badToken(c, `b${i}`, alice.email), /NO \[AUTHENTICATIONFAILED\]/);
    c.close();
  }
  const imap = await RawClient.connect(p.imapPort, { localAddress: '127.0.0.12' });
  t.teardown(() => imap.close());
  t.match(await imap.line(), /^\* BYE \[UNAVAILABLE\] Too many failed logins/, 'IMAP: refused at connect');
  await t.rejects(client(p, '127.0.0.12'), 'IMAPS: closed without spending a TLS handshake');
  const smtp = await RawClient.connect(p.submissionPort, { localAddress: '127.0.0.12' });
  t.teardown(() => smtp.close());
  t.match(await smtp.line(), /^421 4\.7\.0 Too many failed logins/, 'SMTP: 421 at connect');
  const other = await client(p, '127.0.0.13');
  await other.line();
  t.match((await other.command(`c1 LOGIN ${alice.email} ${alice.password}`)).tagged, /^c1 OK/, 'another IP logs in');
  t.ok(p.logs().some((l) => l.event === 'connection-refused' && l.reason === 'ip-blocked'));
});

t.test('a user whose password is guessed from many IPs is blocked for passwords, which are not even tried; a valid token still logs in', async (t) => {
  const p = await proxyWith({ AUTH_FAIL_MAX_PER_USER: '4', AUTH_FAIL_DELAY_MS: '0' });
  for (let i = 0; i < 4; i++) {
    const c = await client(p, `127.0.1.${i + 1}`);
    await c.line();
    t.match((await c.command(`d${i} LOGIN ${bob.email} wrong-${i}`, 20_000)).tagged, /NO \[AUTHENTICATIONFAILED\]/);
    c.close();
  }
  const c = await client(p, '127.0.1.99');
  await c.line();
  c.write(`e1 LOGIN ${bob.email} ${bob.password}\r\n`);
  t.match(await c.line(), /^\* BYE \[UNAVAILABLE\] Too many failed logins/);
  // A bearer token cannot be guessed: failures in bob's name never refuse it (issue 16 item 3).
  const b = await client(p, '127.0.1.99');
  await b.line();
  t.match((await b.command(`f1 AUTHENTICATE XOAUTH2 ${xoauth2(bob.email, await idp.mintToken(bob.email))}`)).tagged, /^f1 OK/, 'bob\'s token logs in');
  const a = await client(p, '127.0.1.99');
  await a.line();
  t.match((await a.command(`f2 LOGIN ${alice.email} ${alice.password}`)).tagged, /^f2 OK/, 'other users unaffected');
});

t.test('connection limits: per IP and pre-login', async (t) => {
  const p = await proxyWith({ MAX_CONNECTIONS_PER_IP: '2', MAX_PREAUTH_SESSIONS: '3' });
  const one = await RawClient.connect(p.imapPort, { localAddress: '127.0.2.1' });
  const two = await RawClient.connect(p.imapPort, { localAddress: '127.0.2.1' });
  t.teardown(() => { one.close(); two.close(); });
  await one.line();
  await two.line();
  const three = await RawClient.connect(p.imapPort, { localAddress: '127.0.2.1' });
  t.teardown(() => three.close());
  t.match(await three.line(), /^\* BYE \[UNAVAILABLE\] Too many connections/, 'third from one IP refused');
  const other = await RawClient.connect(p.imapPort, { localAddress: '127.0.2.2' });
  t.teardown(() => other.close());
  t.match(await other.line(), /^\* OK/, 'another IP is served (3rd pre-login session)');
  const fourth = await RawClient.connect(p.submissionPort, { localAddress: '127.0.2.3' });
  t.teardown(() => fourth.close());
  t.match(await fourth.line(), /^421 4\.7\.0 Too many connections/, 'pre-login limit across protocols');
  one.close();
  await one.closedPromise;
  await new Promise((r) => setTimeout(r, 100));
  const again = await RawClient.connect(p.submissionPort, { localAddress: '127.0.2.3' });
  t.teardown(() => again.close());
  t.match(await again.line(), /^220 /, 'a slot freed by a closed connection is reusable');
});
