// Disabling a user tells the services once, whatever the case of the address, so their open
// sessions are ended once; the per-user index of sessions forgets what ended.
import t from 'tap';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import { UserSessions } from '../../src/net/user-sessions.js';

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

t.test('UserSessions indexes sessions by user, case-insensitively, and forgets removed ones', async (t) => {
  const s = new UserSessions<string>();
  const r1 = s.add('Carol@example.test', 'imap-1');
  const r2 = s.add('carol@example.test', 'smtp-1');
  s.add('bob@example.test', 'imap-2');
  t.same(s.of('CAROL@EXAMPLE.TEST').sort(), ['imap-1', 'smtp-1']);
  r1();
  t.same(s.of('carol@example.test'), ['smtp-1']);
  r2();
  r2(); // twice is harmless
  t.same(s.of('carol@example.test'), []);
  t.same(s.of('bob@example.test'), ['imap-2']);
});
