// Issue 20 with real parts: two proxy replicas behind HAProxy (PROXY protocol v2, round
// robin), one real redis-server as SHARED_STATE_URL, the real Dovecot and IdP. A brute
// force spread over both replicas is blocked at the configured total (per IP and per user);
// a SCIM deactivation received by replica A ends the IDLE session on replica B within a
// second and refuses B's next login; with Redis killed no valid login fails and attacks are
// still limited per replica; after Redis is back (empty) the replicas rejoin by themselves.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackendAndIdp } from '../harness/stack.js';
import { eventually, startProxy, type TestProxy } from '../harness/proxy.js';
import { startRedis } from '../harness/redis.js';
import { RawClient, oauthbearer, xoauth2 } from '../harness/raw-imap.js';
import { startHaproxy } from '../reliability/load/haproxy.js';
import { DRAIN_QUIET_MS } from '../../src/limits.js';

const SCIM_TOKEN = randomBytes(24).toString('hex');
const MAX_PER_IP = 6;
const MAX_PER_USER = 8;
const WAIT_MS = 10_000;

const { backend, idp } = await startBackendAndIdp(t);
const [alice, bob] = backend.users as [typeof backend.users[0], typeof backend.users[0]];
const redis = await startRedis();
t.teardown(() => redis.stop());
const dir = mkdtempSync(join(tmpdir(), 'o2mp-replicas-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const env = {
  SHARED_STATE_URL: redis.url,
  // HAProxy connects from 127.0.0.1; test clients that talk to one replica directly use other 127/8 addresses.
  PROXY_PROTOCOL_TRUSTED_NETWORKS: '127.0.0.1/32',
  AUTH_FAIL_MAX_PER_IP: String(MAX_PER_IP),
  AUTH_FAIL_MAX_PER_USER: String(MAX_PER_USER),
  AUTH_FAIL_DELAY_MS: '0',
  AUTH_FAIL_BLOCK_SECONDS: '900',
};
const start = async (extra: Record<string, string>): Promise<TestProxy> => {
  const p = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env: { ...env, ...extra } });
  t.teardown(() => p.stop());
  return p;
};
// Only A has the SCIM service: B learns deactivations through the store alone.
const a = await start({ LISTEN_SCIM: '127.0.0.1:0', SCIM_TOKEN, DMS_CONFIG_DIR: dir });
// One certificate for both, as behind one service name.
const b = await start({ SSL_CERT_PATH: a.certs.certFile, SSL_KEY_PATH: a.certs.keyFile });
const ca = readFileSync(a.certs.caFile, 'utf8');
const haproxy = await startHaproxy(dir, [a, b].map((p, i) => ({
  name: `r${i}`, imapsPort: p.imapsPort, submissionsPort: p.submissionsPort, httpPort: p.server.port('http'),
})));
t.teardown(() => haproxy.stop());

/** One connection, one LOGIN/AUTHENTICATE: the tagged reply, the BYE that refused it, or 'refused at connect'. */
async function login(port: number, from: string, command: string): Promise<string> {
  let c: RawClient;
  try {
    c = await RawClient.connect(port, { implicitTls: true, ca, localAddress: from });
  } catch {
    return 'refused at connect';
  }
  try {
    const greeting = await c.line();
    if (!greeting.startsWith('* OK')) return greeting;
    c.write(`l1 ${command}\r\n`);
    for (;;) {
      const l = await c.line(WAIT_MS);
      if (l.startsWith('l1 ') || l.startsWith('* BYE')) return l;
      if (l.startsWith('+ ')) c.write('\r\n'); // a token's error challenge (RFC 7628 §3.2.2)
    }
  } catch {
    return 'closed';
  } finally {
    c.close();
  }
}
const password = (user: { email: string }, pass: string): string => `LOGIN ${user.email} ${pass}`;
// Per-IP guessing uses bogus tokens: wrong passwords from one address also meet Dovecot's own
// growing auth penalty for that address (the proxy passes it on), seconds per attempt.
const bogusToken = (user: { email: string }): string => `AUTHENTICATE XOAUTH2 ${xoauth2(user.email, `bogus-${randomBytes(4).toString('hex')}`)}`;
const failuresOn = (p: TestProxy, from: string): number => p.logs().filter((l) => l.event === 'auth-failed' && l.client === from).length;
const httpText = async (p: TestProxy, path: string): Promise<string> =>
  (await fetch(`http://127.0.0.1:${p.server.port('http')}${path}`, { signal: AbortSignal.timeout(WAIT_MS) })).text();
const storeUp = async (p: TestProxy): Promise<boolean> => /^oauth2_mail_proxy_shared_state_up 1$/m.test(await httpText(p, '/metrics'));

/** MAX_PER_IP bogus tokens from `from` through HAProxy: each a plain failure; then the address is refused on both. */
async function bruteForceIsBlockedAtTheTotal(t: Test, from: string): Promise<void> {
  for (let i = 1; i <= MAX_PER_IP; i++) {
    t.match(await login(haproxy.imapsPort, from, bogusToken(alice)), /^l1 NO \[AUTHENTICATIONFAILED\]/, `failure ${i}`);
  }
  t.ok(failuresOn(a, from) > 0 && failuresOn(b, from) > 0, `the attempts were spread over both replicas (${failuresOn(a, from)} + ${failuresOn(b, from)})`);
  t.ok(failuresOn(a, from) < MAX_PER_IP && failuresOn(b, from) < MAX_PER_IP, 'neither replica alone reached the limit');
  for (const p of [a, b]) t.equal(await login(p.imapsPort, from, password(alice, alice.password)), 'refused at connect', 'then the address is refused, on each replica, even with the right password');
}

await eventually(async () => (await storeUp(a)) && (await storeUp(b)), WAIT_MS, 'both replicas joined the store');

t.test('a password brute force spread over both replicas is blocked at the configured total', async (t) => {
  await bruteForceIsBlockedAtTheTotal(t, '127.0.5.1');
  t.match(await login(haproxy.imapsPort, '127.0.5.99', password(alice, alice.password)), /^l1 OK /, 'another address logs in');
});

t.test('guessing one user\'s password from many addresses over both replicas blocks that user at the configured total', async (t) => {
  for (let i = 1; i <= MAX_PER_USER; i++) {
    t.match(await login(haproxy.imapsPort, `127.0.6.${i}`, password(bob, `wrong-${i}`)), /^l1 NO \[AUTHENTICATIONFAILED\]/, `failure ${i}`);
  }
  for (const p of [a, b]) {
    t.match(await login(p.imapsPort, '127.0.6.100', password(bob, bob.password)), /^(\* BYE|l1 NO) \[UNAVAILABLE\]/, "bob's password is refused on each replica");
  }
  t.match(await login(b.imapsPort, '127.0.6.101', `AUTHENTICATE OAUTHBEARER ${oauthbearer(bob.email, await idp.mintToken(bob.email))}`), /^l1 OK /, 'his token still works (a token cannot be guessed)');
});

const carol = 'carol@example.test';
t.test('a SCIM deactivation received by replica A ends the IDLE session on replica B within a second and refuses B\'s next login', async (t) => {
  const scim = (method: string, path: string, body: unknown) => fetch(`http://127.0.0.1:${a.server.port('scim')}/scim/v2${path}`, {
    method, headers: { authorization: `Bearer ${SCIM_TOKEN}`, 'content-type': 'application/scim+json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(WAIT_MS),
  });
  const created = await scim('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: carol, active: true, emails: [{ value: carol, primary: true }] });
  t.equal(created.status, 201);
  const id = (await created.json() as { id: string }).id;
  t.same(await backend.syncDmsAccounts(join(dir, 'postfix-accounts.cf')), [carol]);
  idp.addAccount({ email: carol, name: 'Carol' });

  const c = await RawClient.connect(b.imapsPort, { implicitTls: true, ca, localAddress: '127.0.7.1' });
  t.teardown(() => c.close());
  await c.line();
  t.match((await c.command(`a1 AUTHENTICATE OAUTHBEARER ${oauthbearer(carol, await idp.mintToken(carol))}`)).tagged, /^a1 OK/, 'carol logged in on B');
  t.match((await c.command('s1 SELECT INBOX')).tagged, /^s1 OK/);
  c.write('i1 IDLE\r\n');
  t.match(await c.line(), /^\+ /, 'in IDLE on B');
  const r = await scim('PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: false } }] });
  t.equal(r.status, 200, 'A took the deactivation');
  const answered = Date.now();
  const byeOnB = c.lineAfterKeepalives(WAIT_MS);
  t.match(await login(b.imapsPort, '127.0.7.2', `AUTHENTICATE OAUTHBEARER ${oauthbearer(carol, await idp.mintToken(carol))}`), /^l1 NO \[AUTHENTICATIONFAILED\]/, "B refuses carol's next login");
  const refusedAfter = Date.now() - answered;
  t.ok(refusedAfter < 1000, `B knew within a second (${refusedAfter} ms, the login included)`);
  t.equal(await byeOnB, '* BYE Account disabled.', "B ends carol's IDLE session");
  // The BYE goes between two responses, once the session has been quiet for DRAIN_QUIET_MS
  // (session/drain.ts), as on the replica that took the deactivation itself.
  const byeAfter = Date.now() - answered;
  t.ok(byeAfter < 1000 + DRAIN_QUIET_MS, `within a second after the quiet time (${byeAfter} ms)`);
  t.ok(await c.waitClosed(WAIT_MS), 'and closes it');
  t.match(await redis.command(`HEXISTS oauth2-mail-proxy:disabled ${carol}`), /^:1\r\n/, 'the deactivation is in the store');
});

t.test('Redis killed in the middle of a login run: no valid login fails, and attacks are still limited by each replica', async (t) => {
  const replies: string[] = [];
  for (let i = 0; i < 30; i++) {
    if (i === 10) await redis.kill();
    replies.push(await login(haproxy.imapsPort, `127.0.9.${i + 1}`, password(alice, alice.password)));
  }
  t.same(replies.filter((r) => !/^l1 OK /.test(r)), [], 'all 30 valid logins succeeded');
  await eventually(async () => !(await storeUp(a)), WAIT_MS, 'A sees the store gone');

  // One replica alone: its own counter still blocks at the limit.
  for (let i = 1; i <= MAX_PER_IP; i++) t.match(await login(a.imapsPort, '127.0.8.1', bogusToken(alice)), /^l1 NO \[AUTHENTICATIONFAILED\]/);
  t.equal(await login(a.imapsPort, '127.0.8.1', password(alice, alice.password)), 'refused at connect', 'blocked by A\'s own count');
  t.match(await login(b.imapsPort, '127.0.7.3', `AUTHENTICATE OAUTHBEARER ${oauthbearer(carol, await idp.mintToken(carol))}`), /^l1 NO \[AUTHENTICATIONFAILED\]/, "carol's last known deactivation stays in force on B");

  const metricsText = await httpText(a, '/metrics');
  t.match(metricsText, /^oauth2_mail_proxy_shared_state_errors_total\{op="[a-z-]+"\} [1-9]/m, 'store errors are counted');
  const ready = await eventually(async () => {
    const body = await httpText(a, '/readyz');
    return /degraded: shared store unreachable/.test(body) ? body : undefined;
  }, 15_000, 'readiness reports the degradation');
  t.notMatch(ready, /"ready":\s*false/, 'the replica stays ready: logins do not need the store');
});

t.test('Redis restarted (empty): the replicas rejoin by themselves and sharing resumes', async (t) => {
  await redis.restart();
  await eventually(async () => (await storeUp(a)) && (await storeUp(b)), WAIT_MS, 'both replicas rejoined');
  await eventually(async () => /^:1\r\n/.test(await redis.command(`HEXISTS oauth2-mail-proxy:disabled ${carol}`)), WAIT_MS, 'the replicas gave the new store carol\'s deactivation');
  await bruteForceIsBlockedAtTheTotal(t, '127.0.5.2');
});
