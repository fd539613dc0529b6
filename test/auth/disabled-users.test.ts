// Disabling a user tells the services once, whatever the case of the address, so their open
// sessions are ended once (session/revocation.ts); sessions that ended are forgotten.
import t from 'tap';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import { revocation } from '../../src/session/revocation.js';
import { createLogger } from '../../src/observability/logger.js';
import { Writable } from 'node:stream';

t.test('onDisabled fires once per transition to disabled, with the lower-case address', async (t) => {
  const d = new DisabledUsers();
  const seen: string[] = [];
  const off = d.onDisabled((u, why) => seen.push(`${u} ${why}`));
  d.disable('Carol@Example.test', 'scim');
  d.disable('carol@example.test', 'scim'); // already disabled: no second cut
  t.same(seen, ['carol@example.test scim']);
  d.enable('CAROL@example.test');
  t.equal(d.reason('carol@example.test'), undefined);
  d.disable('carol@example.test', 'again');
  t.same(seen, ['carol@example.test scim', 'carol@example.test again'], 'fires again after re-enabling');
  off();
  d.enable('carol@example.test');
  d.disable('carol@example.test', 'unsubscribed');
  t.equal(seen.length, 2, 'unsubscribed');
});

t.test('revocation ends the sessions of the disabled user only, case-insensitively, not forgotten ones', async (t) => {
  const d = new DisabledUsers();
  const log = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
  const ended: string[] = [];
  const r = revocation<string>({ disabled: d }, log, 'imap', (h, deadline) => {
    t.ok(deadline > Date.now(), 'a deadline in the future');
    ended.push(h);
  });
  const f1 = r.track('Carol@example.test', 'imap-1');
  const f2 = r.track('carol@example.test', 'imap-2');
  r.track('bob@example.test', 'imap-3');
  f1();
  f1(); // twice is harmless
  d.disable('CAROL@EXAMPLE.TEST', 'scim');
  t.same(ended, ['imap-2'], "only carol's session still open is ended");
  f2();
  d.enable('carol@example.test');
  d.disable('carol@example.test', 'again');
  t.same(ended, ['imap-2'], 'a forgotten session is not ended again');
  r.track('carol@example.test', 'imap-4');
  t.same(ended, ['imap-2', 'imap-4'], 'tracked while already disabled: ended at once');
  r.close();
  d.enable('bob@example.test');
  d.disable('bob@example.test', 'after close');
  t.same(ended, ['imap-2', 'imap-4'], 'closed: bob untouched');
});

t.test('a user deleted over SCIM: no longer refused here, and their sessions are ended each time', async (t) => {
  const d = new DisabledUsers();
  const seen: string[] = [];
  d.onDisabled((u, why) => seen.push(`${u} ${why}`));
  d.disable('dave@example.test', 'scim');
  d.removed('Dave@Example.test', 'deleted');
  t.equal(d.reason('dave@example.test'), undefined, 'what stays of the account in DMS decides from now on');
  t.same(seen, ['dave@example.test scim', 'dave@example.test deleted'], 'told again, though already disabled');
  d.removed('erin@example.test', 'deleted');
  t.same(seen.at(-1), 'erin@example.test deleted', 'an active user deleted: told too');

  const log = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
  const ended: string[] = [];
  const r = revocation<string>({ disabled: d }, log, 'smtp', (h) => ended.push(h));
  r.track('erin@example.test', 'smtp-1');
  t.same(ended, [], 'tracking a removed (not disabled) user ends nothing');
  d.removed('erin@example.test', 'deleted');
  t.same(ended, ['smtp-1'], 'deleting ends the open session');
  r.close();
});

t.test('without SCIM (no DisabledUsers) revocation indexes nothing and ends nothing', async (t) => {
  const log = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
  const ended: string[] = [];
  const r = revocation<string>({}, log, 'imap', (h) => ended.push(h));
  const forgetA = r.track('carol@example.test', 'imap-1');
  const forgetB = r.track('bob@example.test', 'imap-2');
  t.equal(forgetA, forgetB, 'one shared no-op: no per-session state');
  forgetA();
  r.close();
  t.same(ended, []);
});
