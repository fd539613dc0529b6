// Failed-login limits that cannot be turned against others (issue 16): bogus tokens in a
// user's name never lock that user out, an attacker's own good login does not reset the count
// of his failures (item 3), and IPv6 clients are counted per /64 (item 11), through the real
// proxy, Dovecot and IdP.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { startBackendAndIdp } from '../harness/stack.js';
import { startProxy, type TestProxy } from '../harness/proxy.js';
import { RawClient, xoauth2 } from '../harness/raw-imap.js';

const { backend, idp } = await startBackendAndIdp(t);
const [alice, bob] = backend.users as [typeof backend.users[0], typeof backend.users[0]];

async function proxyWith(env: Record<string, string>): Promise<TestProxy> {
  const p = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env });
  t.teardown(() => p.stop());
  return p;
}

/** One connection, one login; the tagged reply, or the BYE / failure that refused it. */
async function attempt(p: TestProxy, from: string, login: (c: RawClient) => Promise<string>, preamble?: Buffer): Promise<string> {
  let c: RawClient;
  try {
    c = await RawClient.connect(p.imapsPort, { implicitTls: true, ca: readFileSync(p.certs.caFile, 'utf8'), localAddress: from, ...(preamble ? { preamble } : {}) });
  } catch {
    return 'refused at connect';
  }
  try {
    const greeting = await c.line();
    if (!greeting.startsWith('* OK')) return greeting;
    return await login(c);
  } catch {
    return 'closed';
  } finally {
    c.close();
  }
}

const badToken = (user: string) => async (c: RawClient): Promise<string> => {
  c.write(`b1 AUTHENTICATE XOAUTH2 ${xoauth2(user, 'bogus-token')}\r\n`);
  const challenge = await c.line();
  if (!challenge.startsWith('+ ')) return challenge;
  c.write('\r\n');
  return (await c.until('b1')).tagged;
};
const goodToken = (user: string) => async (c: RawClient): Promise<string> => {
  const r = await c.command(`g1 AUTHENTICATE XOAUTH2 ${xoauth2(user, await idp.mintToken(user))}`);
  return r.tagged;
};
const password = (user: string, pass: string) => async (c: RawClient): Promise<string> => (await c.command(`p1 LOGIN ${user} ${pass}`)).tagged;

t.test('item 3: bogus tokens in bob\'s name from many addresses never refuse bob\'s valid token (or password)', async (t) => {
  const p = await proxyWith({ AUTH_FAIL_MAX_PER_IP: '10', AUTH_FAIL_MAX_PER_USER: '20', AUTH_FAIL_DELAY_MS: '0', AUTH_FAIL_BLOCK_SECONDS: '900' });
  for (let i = 1; i <= 20; i++) t.match(await attempt(p, `127.0.4.${i}`, badToken(bob.email)), /^b1 NO \[AUTHENTICATIONFAILED\]/);
  t.match(await attempt(p, '127.0.4.100', goodToken(bob.email)), /^g1 OK /, 'bob\'s valid token logs in');
  t.match(await attempt(p, '127.0.4.101', password(bob.email, bob.password)), /^p1 OK /, 'so does his password');
});

t.test('item 3: the attacker\'s own good login after every 9 failures does not reset his count: his address is blocked', async (t) => {
  const p = await proxyWith({ AUTH_FAIL_MAX_PER_IP: '10', AUTH_FAIL_MAX_PER_USER: '20', AUTH_FAIL_DELAY_MS: '0', AUTH_FAIL_BLOCK_SECONDS: '900' });
  const replies: string[] = [];
  for (let i = 1; i <= 20; i++) {
    replies.push(await attempt(p, '127.0.5.1', badToken(bob.email)));
    if (i % 9 === 0) replies.push(await attempt(p, '127.0.5.1', goodToken(alice.email)));
  }
  t.match(replies.slice(0, 9), Array(9).fill(/^b1 NO \[AUTHENTICATIONFAILED\]/));
  t.match(replies[9], /^g1 OK /, 'his own login works');
  t.match(replies[10], /^b1 NO \[AUTHENTICATIONFAILED\]/, 'the tenth failure');
  t.ok(replies.slice(11).every((r) => r === 'refused at connect'), `then his address is refused: ${JSON.stringify(replies.slice(11))}`);
  t.match(await attempt(p, '127.0.5.2', goodToken(bob.email)), /^g1 OK /, 'bob, elsewhere, is fine');
});

t.test('item 11: an IPv6 client rotating through its /64 (via PROXY protocol) is blocked as one client; the next /64 is not', async (t) => {
  const p = await proxyWith({ PROXY_PROTOCOL_TRUSTED_NETWORKS: '127.0.0.0/8', AUTH_FAIL_MAX_PER_IP: '3', AUTH_FAIL_DELAY_MS: '0' });
  const from = (address: string): Buffer => Buffer.from(`PROXY TCP6 ${address} 2001:db8::25 40000 993\r\n`);
  for (let i = 1; i <= 3; i++) {
    t.match(await attempt(p, '127.0.7.1', badToken(alice.email), from(`2001:db8:1:2::${i}`)), /^b1 NO \[AUTHENTICATIONFAILED\]/);
  }
  t.equal(await attempt(p, '127.0.7.1', goodToken(alice.email), from('2001:db8:1:2:abcd::99')), 'refused at connect', 'another address in the /64 is refused');
  t.match(await attempt(p, '127.0.7.1', goodToken(alice.email), from('2001:db8:1:3::1')), /^g1 OK /, 'the next /64 logs in');
  t.ok(p.logs().some((l) => l.event === 'connection-refused' && l.reason === 'ip-blocked' && l.client === '2001:db8:1:2:abcd::99'), 'logged with the real address');
});
