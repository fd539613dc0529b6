// Revoking an app password in the shared store ends the live sessions that logged in with it
// on every replica (issue 19/20 follow-up), with real parts: two proxy replicas with
// APP_PASSWORDS_FILE and one real redis-server as SHARED_STATE_URL; the admin CLI revokes on
// the store (as the portal or another replica would, through AppPasswordStore.revoke); the
// announcement reaches both replicas, each ends its matching sessions with `* BYE`, and the
// same user's other app-password and OAuth sessions stay open. `--all` ends every
// app-password session of the user on both replicas, and no OAuth session. A replica away
// from the store when the revocation was announced (B reaches it only through a TCP
// forwarder the test cuts) ends those sessions when it is back.
import t from 'tap';
import { startReplicaPair, storeUp } from '../harness/replicas.js';
import { eventually, type TestProxy } from '../harness/proxy.js';
import { RawClient, oauthbearer } from '../harness/raw-imap.js';
import { appPasswordCommand } from '../../src/commands/app-password.js';

const WAIT_MS = 10_000;
/** The bound the issue sets: a lost phone is cut off within about a second; 3 s under load. */
const REVOKE_BOUND_MS = 3000;

const { backend, idp, redis, toStoreFromB, a, b, ca } = await startReplicaPair(t, 'o2mp-revoke-replicas-');
const [alice] = backend.users as [typeof backend.users[0]];

async function cli(...argv: string[]): Promise<number> {
  return appPasswordCommand(argv, { env: { SHARED_STATE_URL: redis.url }, out: () => undefined, err: () => undefined });
}
async function create(label: string): Promise<{ id: string; secret: string }> {
  let out = '';
  t.equal(await appPasswordCommand(['--json', 'create', alice.email, label], { env: { SHARED_STATE_URL: redis.url }, out: (s) => { out += s; }, err: () => undefined }), 0);
  return JSON.parse(out) as { id: string; secret: string };
}
/** A session in IDLE on `p`, logged in with an app password or a token. */
async function idleOn(p: TestProxy, auth: { password: string } | { token: string }): Promise<RawClient> {
  const c = await RawClient.connect(p.imapsPort, { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  const r = 'password' in auth
    ? await c.command(`a1 LOGIN "${alice.email}" "${auth.password}"`, WAIT_MS)
    : await c.command(`a1 AUTHENTICATE OAUTHBEARER ${oauthbearer(alice.email, auth.token)}`, WAIT_MS);
  t.match(r.tagged, /^a1 OK/, 'logged in');
  t.match((await c.command('s1 SELECT INBOX', WAIT_MS)).tagged, /^s1 OK/);
  c.write('i1 IDLE\r\n');
  t.match(await c.line(WAIT_MS), /^\+ /, 'in IDLE');
  return c;
}
async function endsWithin(since: number, c: RawClient, what: string): Promise<void> {
  const line = await c.lineAfterKeepalives(Math.max(1, since + REVOKE_BOUND_MS + 1000 - Date.now())).catch((err: Error) => `(no line: ${err.message})`);
  const ms = Date.now() - since;
  t.match(line, /^\* BYE /, `${what}: * BYE`);
  t.ok(ms <= REVOKE_BOUND_MS, `${what}: ended ${ms} ms after the revocation (bound ${REVOKE_BOUND_MS} ms)`);
}
async function stillOpen(c: RawClient, what: string): Promise<void> {
  c.write('DONE\r\n');
  t.match((await c.until('i1', WAIT_MS)).tagged, /^i1 OK/, `${what}: IDLE ends normally`);
  t.match((await c.command('n1 NOOP', WAIT_MS)).tagged, /^n1 OK/, `${what}: still usable`);
  c.write('i1 IDLE\r\n');
  t.match(await c.line(WAIT_MS), /^\+ /, `${what}: in IDLE again`);
}

await eventually(() => storeUp(a) && storeUp(b), WAIT_MS, 'both replicas joined the store');

t.test('a revocation on the store ends the sessions of that app password on both replicas; --all every app-password session, no OAuth one', async (t) => {
  const p1 = await create('Lost phone');
  const p2 = await create('Laptop');
  const phoneOnA = await idleOn(a, { password: p1.secret });
  const phoneOnB = await idleOn(b, { password: p1.secret });
  const laptopOnB = await idleOn(b, { password: p2.secret });
  const oauthOnB = await idleOn(b, { token: await idp.mintToken(alice.email) });
  const oauthOnA = await idleOn(a, { token: await idp.mintToken(alice.email) });

  t.equal(await cli('revoke', alice.email, p1.id), 0, 'P1 revoked');
  const revokedAt = Date.now();
  await endsWithin(revokedAt, phoneOnB, 'P1 on B');
  await endsWithin(revokedAt, phoneOnA, 'P1 on A');
  await stillOpen(laptopOnB, 'P2 on B');
  await stillOpen(oauthOnB, 'OAuth on B');

  t.equal(await cli('revoke', alice.email, '--all'), 0, 'all revoked');
  await endsWithin(Date.now(), laptopOnB, 'P2 on B after --all');
  await stillOpen(oauthOnB, 'OAuth on B after --all');
  await stillOpen(oauthOnA, 'OAuth on A after --all');
});

t.test('B away from the store when P3 is revoked: its P3 session ends when B is back, its OAuth session stays', async (t) => {
  const p3 = await create('Old tablet');
  const tabletOnB = await idleOn(b, { password: p3.secret });
  const oauthOnB = await idleOn(b, { token: await idp.mintToken(alice.email) });
  toStoreFromB.cut();
  await eventually(() => !storeUp(b), WAIT_MS, 'B sees the store gone');
  t.equal(await cli('revoke', alice.email, p3.id), 0, 'P3 revoked while B is away');
  await new Promise((r) => setTimeout(r, 500)); // the announcement is gone by now: B cannot hear it
  toStoreFromB.mend();
  await eventually(() => storeUp(b), WAIT_MS, 'B rejoined');
  await endsWithin(Date.now(), tabletOnB, 'P3 on B after its return');
  await stillOpen(oauthOnB, 'OAuth on B after its return');
});
