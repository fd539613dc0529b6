// The session side of an app-password revocation, with plain values: a revoked id ends the
// sessions that logged in with it (case-insensitive user), 'all' every app-password session
// of the user, never a token or DMS-password session, never a session already forgotten;
// a SCIM deactivation still ends them all.
import t from 'tap';
import { Writable } from 'node:stream';
import { RevokedListeners, type AppPasswordRecord } from '../../src/auth/app-passwords.js';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import { revocation } from '../../src/session/revocation.js';
import { createLogger } from '../../src/observability/logger.js';

const log = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));

/** A store that lists the ids in `live` for every user (a record is all the check reads). */
const listing = (live: Set<string>) => async (user: string): Promise<AppPasswordRecord[]> =>
  [...live].map((id) => ({ id, user, label: 'x', createdAt: 0, hash: '' }));
const settle = () => new Promise((resolve) => setImmediate(resolve));

t.test('a revoked app password ends its sessions only; all ends every app-password session of the user', async (t) => {
  const revoked = new RevokedListeners();
  const disabled = new DisabledUsers();
  const ended: string[] = [];
  const r = revocation<string>({ disabled, appPasswords: { onRevoked: (fn) => revoked.add(fn), list: listing(new Set(['id-1', 'id-2'])) } }, log, 'imap', (h) => ended.push(h));
  r.track('Alice@Example.test', 'phone', 'id-1');
  r.track('alice@example.test', 'phone-pop3', 'id-1');
  r.track('alice@example.test', 'laptop', 'id-2');
  r.track('alice@example.test', 'oauth');
  const forget = r.track('alice@example.test', 'gone', 'id-1');
  r.track('bob@example.test', 'bob-phone', 'id-1'); // another user's session is never matched by alice's revocation
  forget();
  await settle();
  t.same(ended, [], 'ids the store still lists: no session ended when tracked');
  revoked.tell('alice@example.test', ['id-1']);
  t.same(ended.sort(), ['phone', 'phone-pop3'], 'the sessions of id-1 only');
  ended.length = 0;
  revoked.tell('alice@example.test', 'all');
  t.same(ended.sort(), ['laptop', 'phone', 'phone-pop3'], 'every app-password session of alice (the ended ones are forgotten by their connection, not here)');
  ended.length = 0;
  revoked.tell('carol@example.test', 'all');
  t.same(ended, [], 'a user without sessions: nothing');
  disabled.disable('alice@example.test', 'scim');
  t.ok(ended.includes('oauth'), 'a deactivation still ends the token session');
  r.close();
  ended.length = 0;
  revoked.tell('alice@example.test', 'all');
  t.same(ended, [], 'closed: no longer listening');
  t.equal(revoked.size, 0, 'unsubscribed');
});

t.test('revoked while the login was in flight: the session is ended when it is tracked', async (t) => {
  const revoked = new RevokedListeners();
  const live = new Set(['id-1', 'id-2']);
  const ended: string[] = [];
  let listed = 0;
  const list = listing(live);
  const r = revocation<string>({ appPasswords: { onRevoked: (fn) => revoked.add(fn), list: (u) => { listed += 1; return list(u); } } }, log, 'imap', (h) => ended.push(h));
  // The login with id-1 was decided; then id-1 is revoked (no session to end yet); then the session is spliced.
  live.delete('id-1');
  revoked.tell('alice@example.test', ['id-1']);
  r.track('alice@example.test', 'phone', 'id-1');
  r.track('alice@example.test', 'laptop', 'id-2');
  r.track('alice@example.test', 'oauth');
  const forget = r.track('alice@example.test', 'gone', 'id-1');
  forget();
  await settle();
  t.same(ended, ['phone'], 'the session of the revoked id only; not one already forgotten');
  t.equal(listed, 3, 'asked once per app-password session, never for a token session');
  const down = revocation<string>({ appPasswords: { onRevoked: (fn) => revoked.add(fn), list: () => Promise.reject(new Error('store down')) } }, log, 'imap', (h) => ended.push(h));
  down.track('alice@example.test', 'tablet', 'id-1');
  await settle();
  t.same(ended, ['phone'], 'a store that does not answer ends nothing');
  r.close();
  down.close();
});

t.test('a listener that throws does not reach the store\'s caller, and the others still hear', async (t) => {
  const revoked = new RevokedListeners();
  const heard: string[] = [];
  revoked.add(() => { throw new Error('boom'); });
  revoked.add((user, ids) => heard.push(`${user} ${String(ids)}`));
  t.doesNotThrow(() => revoked.tell('alice@example.test', ['id-1']));
  revoked.tell('alice@example.test', []);
  t.same(heard, ['alice@example.test id-1'], 'an empty list tells nobody');
});
