// Issue 20 with real parts: two proxy replicas with APP_PASSWORDS_FILE and one real
// redis-server as SHARED_STATE_URL; replica B reaches the store only through a TCP forwarder
// the test cuts (B alone is away from the store, A is not). App passwords made or revoked
// with the CLI on the store hold on both replicas at their next login; with the store out of
// reach an app password is refused as temporarily unavailable while a DMS password logs in;
// what A's SCIM does while B is away (a deletion, a deactivation, and the app passwords the
// deletion revokes) takes effect on B when it rejoins: the users' sessions on B end, and B
// refuses the deactivated user and the revoked app password.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loginOnce, startReplicaPair, storeUp } from '../harness/replicas.js';
import { eventually, type TestProxy } from '../harness/proxy.js';
import { RawClient, oauthbearer } from '../harness/raw-imap.js';
import { appPasswordCommand } from '../../src/commands/app-password.js';
import { DRAIN_QUIET_MS, SHARED_STATE_RECONNECT_MAX_MS } from '../../src/limits.js';

const SCIM_TOKEN = randomBytes(24).toString('hex');
const WAIT_MS = 10_000;

// Only A has the SCIM service: B learns deactivations and deletions through the store alone.
const { backend, idp, redis, toStoreFromB, dir, a, b, ca } = await startReplicaPair(t, 'o2mp-rejoin-', (dir) => ({ LISTEN_SCIM: '127.0.0.1:0', SCIM_TOKEN, DMS_CONFIG_DIR: dir }));
const [alice] = backend.users as [typeof backend.users[0]];
const secrets: string[] = [];

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await appPasswordCommand(argv, { env: { SHARED_STATE_URL: redis.url }, out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}
async function create(user: string, label: string): Promise<{ id: string; secret: string }> {
  const r = await cli('--json', 'create', user, label);
  t.equal(r.code, 0, r.err);
  const made = JSON.parse(r.out) as { id: string; secret: string };
  secrets.push(made.secret);
  return made;
}
/** One IMAP LOGIN on a fresh connection: the tagged reply. */
const login = (p: TestProxy, user: string, password: string): Promise<string> => loginOnce(p, ca, user, password, WAIT_MS);
/** A session in IDLE on `p`, logged in with a token. */
async function idleOn(p: TestProxy, user: string): Promise<RawClient> {
  const c = await RawClient.connect(p.imapsPort, { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  t.match((await c.command(`a1 AUTHENTICATE OAUTHBEARER ${oauthbearer(user, await idp.mintToken(user))}`, WAIT_MS)).tagged, /^a1 OK/, `${user} logged in`);
  t.match((await c.command('s1 SELECT INBOX', WAIT_MS)).tagged, /^s1 OK/);
  c.write('i1 IDLE\r\n');
  t.match(await c.line(WAIT_MS), /^\+ /, `${user} in IDLE`);
  return c;
}
const failuresOf = (p: TestProxy, user: string): number => p.logs().filter((l) => l.event === 'auth-failed' && l.user === user).length;
const scim = (method: string, path: string, body?: unknown) => fetch(`http://127.0.0.1:${a.server.port('scim')}/scim/v2${path}`, {
  method, headers: { authorization: `Bearer ${SCIM_TOKEN}`, 'content-type': 'application/scim+json' }, ...(body ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(WAIT_MS),
});
async function scimUser(email: string): Promise<string> {
  const r = await scim('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: email, active: true, emails: [{ value: email, primary: true }] });
  t.equal(r.status, 201, `SCIM made ${email}`);
  idp.addAccount({ email, name: email });
  return (await r.json() as { id: string }).id;
}

await eventually(() => storeUp(a) && storeUp(b), WAIT_MS, 'both replicas joined the store');

t.test('an app password made with the CLI on the store logs in on both replicas at once; revoked, it fails on both at once', async (t) => {
  const { id, secret } = await create(alice.email, 'Phone');
  t.match(await login(b, alice.email, secret), /^a OK/, 'B at its first login');
  t.match(await login(a, alice.email, secret), /^a OK/, 'A too');
  t.ok(b.logs().some((l) => l.event === 'login' && l.via === 'app-password'), 'B logged it as an app-password login');
  t.equal((await cli('revoke', alice.email, id)).code, 0);
  t.match(await login(b, alice.email, secret), /^a NO \[AUTHENTICATIONFAILED\]/, 'B refuses it at the next login');
  t.match(await login(a, alice.email, secret), /^a NO \[AUTHENTICATIONFAILED\]/, 'A too');
  t.match(await redis.command(`EXISTS oauth2-mail-proxy:app-passwords:${alice.email}`), /^:0/, 'nothing left in the store');
});

const carol = 'carol@example.test';
const dave = 'dave@example.test';
t.test('B away from the store: an app password is temporarily unavailable, a DMS password logs in; what A changed meanwhile holds on B once it rejoins', async (t) => {
  const carolId = await scimUser(carol);
  const daveId = await scimUser(dave);
  t.same((await backend.syncDmsAccounts(join(dir, 'postfix-accounts.cf'))).sort(), [carol, dave]);
  const carolApp = await create(carol, 'Tablet');
  const aliceApp = await create(alice.email, 'Laptop');
  t.match(await login(b, carol, carolApp.secret), /^a OK/, "carol's app password works on B");
  const carolOnB = await idleOn(b, carol);
  const daveOnB = await idleOn(b, dave);

  toStoreFromB.cut();
  await eventually(() => !storeUp(b), WAIT_MS, 'B sees the store gone');
  t.ok(storeUp(a), 'A still has it');
  const failed = failuresOf(b, alice.email);
  t.match(await login(b, alice.email, aliceApp.secret), /^a NO \[UNAVAILABLE\]/, 'an app password cannot be checked on B: temporarily unavailable, not a failure');
  t.equal(failuresOf(b, alice.email), failed, 'not counted as a failed login');
  t.match(await login(b, alice.email, alice.password), /^a OK/, 'her DMS password logs in on B');
  t.match(await login(a, alice.email, aliceApp.secret), /^a OK/, 'the app password works on A');

  t.equal((await scim('DELETE', `/Users/${carolId}`)).status, 204, 'A deletes carol');
  const r = await scim('PATCH', `/Users/${daveId}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: false } }] });
  t.equal(r.status, 200, 'A deactivates dave');
  await eventually(async () => /^:0/.test(await redis.command(`EXISTS oauth2-mail-proxy:app-passwords:${carol}`)), WAIT_MS, "A revoked the deleted carol's app passwords in the store");
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(b.logs().some((l) => l.event === 'sessions-revoked'), 'B, away, has heard of nothing');

  toStoreFromB.mend();
  const mended = Date.now();
  const byes = Promise.all([carolOnB, daveOnB].map((c) => c.lineAfterKeepalives(WAIT_MS)));
  await eventually(() => storeUp(b), WAIT_MS, 'B rejoined');
  t.same(await byes, ['* BYE Account disabled.', '* BYE Account disabled.'], "B ends the deleted carol's and the deactivated dave's IDLE sessions");
  const took = Date.now() - mended;
  const bound = SHARED_STATE_RECONNECT_MAX_MS + DRAIN_QUIET_MS + 1500;
  t.ok(took < bound, `within ${bound} ms of the store's return (${took} ms)`);
  t.ok(await carolOnB.waitClosed(WAIT_MS) && await daveOnB.waitClosed(WAIT_MS), 'and closes them');
  t.match(await login(b, carol, carolApp.secret), /^a NO \[AUTHENTICATIONFAILED\]/, "B refuses the deleted carol's app password");
  t.match(await login(b, dave, 'whatever-password'), /^a NO \[AUTHENTICATIONFAILED\]/, 'B refuses dave');
  t.ok(b.logs().some((l) => l.event === 'auth-failed' && l.user === dave && /disabled/.test(String(l.reason))), 'as a deactivated user');
  // Carol's account line is gone (Dovecot here still has her: nothing re-imported): a token
  // of hers still valid is refused on B as a deactivated user's is, the deletion sticks.
  const c = await RawClient.connect(b.imapsPort, { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  c.write(`a1 AUTHENTICATE OAUTHBEARER ${oauthbearer(carol, await idp.mintToken(carol))}\r\n`);
  t.match(await c.line(WAIT_MS), /^\+ /, 'the error challenge of RFC 7628 §3.2.2');
  c.write('AQ==\r\n');
  t.match((await c.until('a1', WAIT_MS)).tagged, /^a1 NO \[AUTHENTICATIONFAILED\]/, "B refuses the deleted carol's token");
  t.ok(b.logs().some((l) => l.event === 'auth-failed' && l.user === carol && /^user disabled: deleted/.test(String(l.reason))), 'as a deactivated user, the deletion named');
  t.match(await login(b, alice.email, aliceApp.secret), /^a OK/, "alice's app password works on B again");
});

t.test('a token decided on A logs in on B without a second IdP call; a deactivated user\'s shared decision does not let them in', async (t) => {
  const token = await idp.mintToken(alice.email);
  const tokenLogin = (p: TestProxy, user: string, tok: string): Promise<string> => RawClient.connect(p.imapsPort, { implicitTls: true, ca }).then(async (c) => {
    try {
      await c.line();
      c.write(`a AUTHENTICATE OAUTHBEARER ${oauthbearer(user, tok)}\r\n`);
      for (;;) {
        const l = await c.line(WAIT_MS);
        if (l.startsWith('a ')) return l;
        if (l.startsWith('+ ')) c.write('\r\n'); // a refused token's error challenge (RFC 7628 §3.2.2)
      }
    } finally {
      c.close();
    }
  });
  const asked = idp.counts.userinfo;
  t.match(await tokenLogin(a, alice.email, token), /^a OK/, 'A asks the IdP');
  t.equal(idp.counts.userinfo, asked + 1);
  t.match(await tokenLogin(b, alice.email, token), /^a OK/, 'B logs in with it');
  t.equal(idp.counts.userinfo, asked + 1, 'without asking the IdP again');
  // Filed under a digest of the issuer settings and the token's SHA-256: one entry for the token.
  const sha = createHash('sha256').update(token).digest('base64url');
  const keys = (await redis.command(`KEYS oauth2-mail-proxy:token:*${sha}`)).match(/oauth2-mail-proxy:token:\S+/g) ?? [];
  t.equal(keys.length, 1, 'one shared decision for the token');
  const key = keys[0] ?? '';
  t.ok(key.endsWith(`.${sha}`), `keyed by the token's SHA-256 (${key})`);
  t.match(await redis.command(`EXISTS ${key}`), /^:1/, 'the shared decision is keyed by the token\'s SHA-256');
  t.notMatch(await redis.command(`GET ${key}`), token, 'the token is not in the store');
  const ttl = Number(/^:(\d+)/.exec(await redis.command(`TTL ${key}`))?.[1]);
  t.ok(ttl > 0 && ttl <= 300, `kept no longer than the cache TTL (${ttl} s)`);

  const frank = 'frank@example.test';
  const frankId = await scimUser(frank);
  await backend.syncDmsAccounts(join(dir, 'postfix-accounts.cf'));
  const frankToken = await idp.mintToken(frank);
  t.match(await tokenLogin(a, frank, frankToken), /^a OK/, 'frank on A: his decision is shared');
  const r = await scim('PATCH', `/Users/${frankId}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: false } }] });
  t.equal(r.status, 200, 'A deactivates frank');
  const before = idp.counts.userinfo;
  await eventually(() => tokenLogin(b, frank, frankToken).then((x) => /^a NO \[AUTHENTICATIONFAILED\]/.test(x)), WAIT_MS, 'B refuses frank');
  t.ok(b.logs().some((l) => l.event === 'auth-failed' && l.user === frank && /disabled/.test(String(l.reason))), 'as a deactivated user');
  t.equal(idp.counts.userinfo, before, 'although B had his positive decision from the store');
});

t.test('last use of B\'s logins reaches the store in a batch (written at the latest when B stops), seen by the CLI', async (t) => {
  const { secret } = await create(alice.email, 'Watch');
  t.match(await login(b, alice.email, secret), /^a OK/);
  const before = JSON.parse((await cli('--json', 'list', alice.email)).out) as Array<{ label: string; lastUsedAt?: number }>;
  t.notOk(before.find((r) => r.label === 'Watch')?.lastUsedAt, 'not written per login');
  await b.stop();
  const after = JSON.parse((await cli('--json', 'list', alice.email)).out) as Array<{ label: string; lastUsedAt?: number; lastProtocol?: string }>;
  t.match(after.find((r) => r.label === 'Watch'), { lastUsedAt: Number, lastProtocol: 'imap' }, 'the CLI shows it');
});

t.test('no secret in any log line or in the store', async (t) => {
  const keys = (await redis.command('KEYS oauth2-mail-proxy:app-passwords*')).split('\r\n').filter((l) => l && !/^[*$]/.test(l));
  t.ok(keys.length > 0, 'app passwords are in the store');
  const dump = (await Promise.all(keys.map((k) => redis.command(`${k.includes('imported') ? 'SMEMBERS' : 'HGETALL'} ${k}`)))).join('\n');
  t.match(dump, /scrypt\$/, 'hashes only');
  for (const s of secrets) {
    t.notOk(a.rawLogs().includes(s) || b.rawLogs().includes(s), 'a secret in a proxy log');
    t.notOk(dump.includes(s), 'a secret in the store');
  }
});
