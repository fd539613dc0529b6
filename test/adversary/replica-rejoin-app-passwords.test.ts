// Adversary: replicas run one configuration (deploy/kubernetes: one ConfigMap), so each has
// the SCIM service, and each revokes a deleted user's app passwords when it hears of the
// deletion. A replica cut off from the shared store while a SCIM client deleted a user replays
// the deletion when it rejoins (docs/operations.md: kept 24 h "so a replica that was cut off
// ... ends the deleted user's sessions"), and with it used to revoke, in the shared store,
// every app password of the user: also those made since, on any replica. Their phone and
// laptop stop syncing the moment a replica's network blips back. The deletion's app-password
// revocation is the deleting replica's job (the store is shared); a replay must only end
// sessions. Two ways a user has app passwords again after a deletion:
// - deleted and created again (an offboarding undone, an IdP re-sync);
// - deleted with an adopted DMS account (made by hand before the IdP provisioned it): the
//   account stays and "its logins work again" (docs/scim.md), and the user makes a new app
//   password. The store's forgetting of re-created users does not cover this one.
import t, { type Test } from 'tap';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loginOnce, startReplicaPair, storeUp } from '../harness/replicas.js';
import { eventually, type TestProxy } from '../harness/proxy.js';
import { scimClient } from '../harness/scim-client.js';
import { appPasswordCommand } from '../../src/commands/app-password.js';

const SCIM_TOKEN = randomBytes(24).toString('hex');
const WAIT_MS = 10_000;
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

let dmsA = '';
const withScim = (name: string) => (dir: string) => {
  const dms = mkdtempSync(join(dir, `dms-${name}-`));
  if (name === 'a') dmsA = dms;
  return { LISTEN_SCIM: '127.0.0.1:0', SCIM_TOKEN, DMS_CONFIG_DIR: dms };
};
const { backend, redis, toStoreFromB, a, b, ca } = await startReplicaPair(t, 'omp-rejoin-app-pw-', withScim('a'), withScim('b'));
const [alice, bob] = backend.users as [typeof backend.users[0], typeof backend.users[0]];
const scim = scimClient(`http://127.0.0.1:${a.server.port('scim')}/scim/v2`, SCIM_TOKEN, WAIT_MS);
const login = (p: TestProxy, user: string, password: string): Promise<string> => loginOnce(p, ca, user, password, WAIT_MS);

async function newAppPassword(user: string): Promise<{ id: string; secret: string }> {
  let out = '';
  const code = await appPasswordCommand(['--json', 'create', user, 'Phone'], { env: { SHARED_STATE_URL: redis.url }, out: (s) => { out += s; }, err: () => undefined });
  t.equal(code, 0, `${user} gets a new app password`);
  return JSON.parse(out) as { id: string; secret: string };
}

/** B away from the store while `meanwhile` runs on A; B rejoins and replays; `secret` still logs in on both. */
async function awayAndBack(t: Test, user: string, meanwhile: () => Promise<{ secret: string }>): Promise<void> {
  toStoreFromB.cut();
  await eventually(() => !storeUp(b), WAIT_MS, 'B sees the store gone');
  const { secret } = await meanwhile();
  t.match(await login(a, user, secret), /^a OK/, 'the new app password logs in on A');
  toStoreFromB.mend();
  await eventually(() => storeUp(b), WAIT_MS, 'B rejoined');
  await new Promise((r) => setTimeout(r, 1000)); // B's replay of the deletions it missed
  t.match(await login(a, user, secret), /^a OK/, 'the app password made after the deletion still logs in');
  t.match(await login(b, user, secret), /^a OK/, 'on B too');
}

await eventually(() => storeUp(a) && storeUp(b), WAIT_MS, 'both replicas joined the store');

t.test('deleted and created again while B was away: B\'s rejoin leaves the new app passwords be', async (t) => {
  const made = await scim('POST', '/Users', { schemas: [USER], userName: alice.email, active: true });
  t.equal(made.status, 201, 'A creates alice');
  await awayAndBack(t, alice.email, async () => {
    t.equal((await scim('DELETE', `/Users/${made.json.id as string}`)).status, 204, 'A deletes alice');
    t.equal((await scim('POST', '/Users', { schemas: [USER], userName: alice.email, active: true })).status, 201, 'and creates her again');
    return newAppPassword(alice.email);
  });
});

t.test('an adopted account\'s user deleted while B was away: B\'s rejoin leaves the app passwords made since be', async (t) => {
  appendFileSync(join(dmsA, 'postfix-accounts.cf'), `${bob.email}|{SHA512-CRYPT}$6$abc$xyz\n`); // made by hand
  const made = await scim('POST', '/Users', { schemas: [USER], userName: bob.email, active: true });
  t.equal(made.status, 201, 'A creates bob, adopting his account');
  await awayAndBack(t, bob.email, async () => {
    t.equal((await scim('DELETE', `/Users/${made.json.id as string}`)).status, 204, 'A deletes bob');
    t.match(readFileSync(join(dmsA, 'postfix-accounts.cf'), 'utf8'), new RegExp(`^${bob.email}\\|`, 'm'), 'his adopted account stays');
    return newAppPassword(bob.email);
  });
});
