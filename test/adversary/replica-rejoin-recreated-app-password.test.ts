// Adversary: replicas run one configuration (deploy/kubernetes: one ConfigMap), so each has
// the SCIM service, and each revokes a deleted user's app passwords when it hears of the
// deletion. A replica cut off from the shared store while a SCIM client deleted a user and
// created them again (an offboarding undone, an IdP re-sync) replays the deletion when it
// rejoins (docs/operations.md: kept 24 h "so a replica that was cut off ... ends the deleted
// user's sessions"), and with it revoked, in the shared store, every app password of the user:
// also those the re-created user made since, on any replica. Their phone and laptop stop
// syncing the moment a replica's network blips back. The deletion's app-password revocation
// is the deleting replica's job (the store is shared); a replay must not repeat it.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackendAndIdp } from '../harness/stack.js';
import { eventually, startProxy, type TestProxy } from '../harness/proxy.js';
import { startRedis } from '../harness/redis.js';
import { startTcpCut } from '../harness/tcp-cut.js';
import { RawClient } from '../harness/raw-imap.js';
import { appPasswordCommand } from '../../src/commands/app-password.js';

const SCIM_TOKEN = randomBytes(24).toString('hex');
const WAIT_MS = 10_000;
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

const { backend, idp } = await startBackendAndIdp(t);
const redis = await startRedis();
t.teardown(() => redis.stop());
const toStoreFromB = await startTcpCut(redis.port);
t.teardown(() => toStoreFromB.stop());
const dir = mkdtempSync(join(tmpdir(), 'omp-rejoin-recreate-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const dmsA = mkdtempSync(join(dir, 'dms-a-'));
const dmsB = mkdtempSync(join(dir, 'dms-b-'));
const start = async (env: Record<string, string>): Promise<TestProxy> => {
  const p = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env: { APP_PASSWORDS_FILE: join(dir, 'app-passwords.json'), LISTEN_SCIM: '127.0.0.1:0', SCIM_TOKEN, ...env } });
  t.teardown(() => p.stop());
  return p;
};
const a = await start({ SHARED_STATE_URL: redis.url, DMS_CONFIG_DIR: dmsA });
const b = await start({ SHARED_STATE_URL: `redis://127.0.0.1:${toStoreFromB.port}/0`, DMS_CONFIG_DIR: dmsB, SSL_CERT_PATH: a.certs.certFile, SSL_KEY_PATH: a.certs.keyFile });
const ca = readFileSync(a.certs.caFile, 'utf8');
const [alice] = backend.users as [typeof backend.users[0]];

const storeUp = (p: TestProxy): boolean => p.logs().filter((l) => l.event === 'shared-state-up' || l.event === 'shared-state-down').at(-1)?.event === 'shared-state-up';
const scim = async (method: string, path: string, body?: unknown) => {
  const r = await fetch(`http://127.0.0.1:${a.server.port('scim')}/scim/v2${path}`, {
    method, headers: { authorization: `Bearer ${SCIM_TOKEN}`, 'content-type': 'application/scim+json' }, ...(body ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(WAIT_MS),
  });
  return { status: r.status, json: r.status === 204 ? {} : await r.json() as Record<string, unknown> };
};
async function login(p: TestProxy, user: string, password: string): Promise<string> {
  const c = await RawClient.connect(p.imapsPort, { implicitTls: true, ca });
  try {
    await c.line();
    return (await c.command(`a LOGIN "${user}" "${password}"`, WAIT_MS)).tagged;
  } finally {
    c.close();
  }
}

await eventually(() => storeUp(a) && storeUp(b), WAIT_MS, 'both replicas joined the store');

t.test('deleted and created again while B was away: B\'s rejoin leaves the new app passwords be', async (t) => {
  const made = await scim('POST', '/Users', { schemas: [USER], userName: alice.email, active: true });
  t.equal(made.status, 201, 'A creates alice');

  toStoreFromB.cut();
  await eventually(() => !storeUp(b), WAIT_MS, 'B sees the store gone');
  t.equal((await scim('DELETE', `/Users/${made.json.id as string}`)).status, 204, 'A deletes alice');
  t.equal((await scim('POST', '/Users', { schemas: [USER], userName: alice.email, active: true })).status, 201, 'and creates her again');
  let out = '';
  const code = await appPasswordCommand(['--json', 'create', alice.email, 'Phone'], { env: { SHARED_STATE_URL: redis.url }, out: (s) => { out += s; }, err: () => undefined });
  t.equal(code, 0, 'the re-created alice gets an app password');
  const phone = JSON.parse(out) as { id: string; secret: string };
  t.match(await login(a, alice.email, phone.secret), /^a OK/, 'it logs in on A');

  toStoreFromB.mend();
  await eventually(() => storeUp(b), WAIT_MS, 'B rejoined');
  await new Promise((r) => setTimeout(r, 1000)); // B's replay of the deletions it missed
  t.match(await login(a, alice.email, phone.secret), /^a OK/, 'the app password made after the re-creation still logs in');
  t.match(await login(b, alice.email, phone.secret), /^a OK/, 'on B too');
});
