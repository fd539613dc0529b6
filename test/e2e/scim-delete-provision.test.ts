// A user SCIM deleted stays deleted with PROVISION_ON_LOGIN=1: a token of theirs that is still
// valid is refused as a deactivated user's is (NO [AUTHENTICATIONFAILED], auth-failed), the
// account is not written back, and this holds after a restart of the proxy; only a new SCIM
// POST of the user lets them in again. Real Dovecot, oidc-provider and DMS-like change
// detection (test/harness/dms-watcher.ts).
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchDmsAccounts } from '../harness/dms-watcher.js';
import { startBackendAndIdp } from '../harness/stack.js';
import { scimClient } from '../harness/scim-client.js';
import { startProxy, type TestProxy } from '../harness/proxy.js';
import { xoauth2Login } from '../harness/raw-imap.js';

const SCIM_TOKEN = randomBytes(24).toString('hex');
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const WAIT_MS = 20_000;

const { backend, idp } = await startBackendAndIdp(t);
const dmsDir = mkdtempSync(join(tmpdir(), 'omp-dms-config-'));
t.teardown(() => rmSync(dmsDir, { recursive: true, force: true }));
const accountsFile = join(dmsDir, 'postfix-accounts.cf');
const watcher = watchDmsAccounts(backend, accountsFile);
t.teardown(() => watcher.stop());

const start = () => startProxy({
  backend, userinfoUrl: idp.userinfoUrl,
  env: { OAUTH2_ALLOWED_DOMAINS: 'example.test', PROVISION_ON_LOGIN: '1', LISTEN_SCIM: '127.0.0.1:0', SCIM_TOKEN, DMS_CONFIG_DIR: dmsDir },
});
let proxy = await start();
t.teardown(() => proxy.stop());

const scim = (p: TestProxy, method: string, path: string, body?: unknown) => scimClient(`http://127.0.0.1:${p.server.port('scim')}/scim/v2`, SCIM_TOKEN, WAIT_MS)(method, path, body);

const tokenLogin = (p: TestProxy, email: string, token: string) => xoauth2Login(p.imapsPort, readFileSync(p.certs.caFile, 'utf8'), email, token, WAIT_MS);

const hasLine = (user: string) => readFileSync(accountsFile, 'utf8').split('\n').some((l) => l.startsWith(`${user}|`));

t.test('deleted over SCIM: a still-valid token is refused, nothing is provisioned, across a restart, until POST again', async (t) => {
  const kim = `kim-${randomBytes(3).toString('hex')}@example.test`;
  idp.addAccount({ email: kim, name: 'Kim' });
  const body = { schemas: [USER], userName: kim, active: true, emails: [{ value: kim, primary: true }] };
  const created = await scim(proxy, 'POST', '/Users', body);
  t.equal(created.status, 201);
  const token = await idp.mintToken(kim); // stays valid across everything below
  await backend.syncDmsAccounts(accountsFile); // DMS's change detection, now rather than within 2 s
  t.match(await tokenLogin(proxy, kim, token), /^a1 OK/, 'logs in');

  t.equal((await scim(proxy, 'DELETE', `/Users/${created.json.id}`)).status, 204);
  t.notOk(hasLine(kim), 'the account line is gone');
  t.match(await tokenLogin(proxy, kim, token), /^a1 NO \[AUTHENTICATIONFAILED\]/, 'the still-valid token is refused');
  t.notOk(hasLine(kim), 'and the account is not written back');
  t.match(proxy.logs().filter((l) => l.event === 'auth-failed' && l.user === kim).at(-1), { reason: /^user disabled: deleted by the SCIM client/ },
    'the refusal of a deactivated user (auth-failed, Fail2Ban\'s event)');

  await proxy.stop();
  proxy = await start();
  t.match(await tokenLogin(proxy, kim, token), /^a1 NO \[AUTHENTICATIONFAILED\]/, 'still refused after a restart');
  t.notOk(hasLine(kim), 'still no account line');

  t.equal((await scim(proxy, 'POST', '/Users', body)).status, 201, 'created again');
  await backend.syncDmsAccounts(accountsFile);
  t.match(await tokenLogin(proxy, kim, token), /^a1 OK/, 'logs in again');
});
