// A POST /create whose user the SCIM client deletes while its body is still coming in makes
// an app password that outlives the deletion. The portal looked the session up (and the
// user's SCIM state) before reading the form, and the client paces the form (up to the
// request timeout, 20 s). The deletion ends the user's sessions and revokes all their app
// passwords (server.ts), then the form's last byte arrives and the create goes ahead: the
// new secret is shown, and stored. Refused while the user stays deleted, it logs in again
// once a user of that name is created again (a re-hire, or the address given to someone
// else). A departing user can keep one slow create in flight at all times to be sure of it.
import t from 'tap';
import tls from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PortalSessions } from '../../src/portal/sessions.js';
import { AppPasswordFile } from '../../src/state/app-password-file.js';
import { createLogger } from '../../src/observability/logger.js';
import { portalForm, startTestPortal } from '../harness/portal-listener.js';

const ALICE = 'alice@example.test';
const dir = mkdtempSync(join(tmpdir(), 'o2mp-portal-deleted-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const store = await AppPasswordFile.open(join(dir, 'app-passwords.json'));
t.teardown(() => store.close());
const sessions = new PortalSessions(60_000);
const disabled = new Map<string, string>();
const { port } = await startTestPortal(t, {
  store,
  sessions,
  disabledReason: (user: string) => disabled.get(user),
  log: createLogger('silent'),
});

/** What a SCIM DELETE does to the portal's side (server.ts, service.ts): disabled, sessions ended, app passwords revoked. */
async function scimDelete(user: string): Promise<void> {
  disabled.set(user, 'deleted by SCIM');
  sessions.endUser(user);
  await store.revoke(user, 'all');
}

t.test('deleted while the create form is coming in: no app password outlives the deletion, no secret shown', async (t) => {
  const sid = sessions.start(ALICE);
  const csrf = sessions.get(sid)!.csrf;
  const body = `csrf=${csrf}&label=Keep-me`;
  const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
  t.teardown(() => s.destroy());
  let text = '';
  s.on('data', (d: Buffer) => { text += d.toString('latin1'); });
  const closed = new Promise((r) => s.on('close', r));
  await new Promise((r) => s.on('secureConnect', r));
  s.on('error', () => undefined);
  // Headers and all of the form but its last byte.
  s.write(portalForm('POST', '/create', sid, body).slice(0, -1));
  await new Promise((r) => setTimeout(r, 300)); // the portal has the request and waits for the form
  await scimDelete(ALICE);
  s.write(body.slice(-1));
  await closed;
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  t.not(status, 200, `not a page with a new secret (got ${status})`);
  t.notMatch(text, /id="secret"/, 'no secret shown');
  t.same((await store.list(ALICE)).map((r) => r.label), [], 'no app password of the deleted user in the store');
});
