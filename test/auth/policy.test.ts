import t from 'tap';
import { checkPolicy, claimValues, tokenScopes, type Policy } from '../../src/auth/policy.js';
import { mapUsername, sameUser } from '../../src/auth/claims.js';

const none: Policy = { requiredScopes: [], requiredGroups: [], groupsClaim: 'groups', allowedDomains: [], requireEmailVerified: false };

t.test('mapping: alternatives in order, default domain, lower-casing, mailbox check', async (t) => {
  t.same(mapUsername({ email: 'Alice@Example.TEST' }, 'email'), { ok: true, user: 'alice@example.test', claim: 'email' });
  t.same(mapUsername({ preferred_username: 'bob@example.test' }, 'email preferred_username'), { ok: true, user: 'bob@example.test', claim: 'preferred_username' });
  t.same(mapUsername({ preferred_username: 'Carol' }, 'email preferred_username', 'example.test'), { ok: true, user: 'carol@example.test', claim: 'preferred_username' });
  t.match(mapUsername({ preferred_username: 'carol' }, 'preferred_username'), { ok: false, reason: /not a mailbox/ }, 'bare name without a default domain');
  t.same(mapUsername({ upn: 'not a mailbox', email: 'd@example.test' }, 'upn email'), { ok: true, user: 'd@example.test', claim: 'email' }, 'falls back past a non-mailbox');
  t.match(mapUsername({}, 'email'), { ok: false, reason: /no claim email/ });
  t.match(mapUsername({ email: ['a@b.c'] }, 'email'), { ok: false });
  t.match(mapUsername({ email: 'a"b@c.d' }, 'email'), { ok: false }, 'quote refused');
  t.same(mapUsername({ ext: { mail: 'e@example.test' } }, 'ext.mail'), { ok: true, user: 'e@example.test', claim: 'ext.mail' }, 'nested path');
  t.ok(sameUser(undefined, 'a@b.c') && sameUser('', 'a@b.c') && sameUser(' A@B.C ', 'a@b.c'));
  t.notOk(sameUser('bob@b.c', 'a@b.c'));
});

t.test('scopes from scope (string) and scp (Entra: string or list)', async (t) => {
  t.same([...tokenScopes({ scope: 'openid  email' })], ['openid', 'email']);
  t.same([...tokenScopes({ scp: ['Mail.Send', 'IMAP'] })], ['Mail.Send', 'IMAP']);
  t.same([...tokenScopes({ scp: 'a b' })], ['a', 'b']);
  t.same(claimValues({ realm_access: { roles: ['x', 1, 'y'] } }, 'realm_access.roles'), ['x', 'y']);
  t.same(claimValues({ groups: 'one' }, 'groups'), ['one']);
});

t.test('policy decisions and evidence', async (t) => {
  const claims = { scope: 'openid email mail', groups: ['staff', 'mail-users'], realm_access: { roles: ['mail'] }, email_verified: true };
  t.same(checkPolicy(claims, 'a@example.test', none), { ok: true, evidence: {} });
  t.match(checkPolicy(claims, 'a@example.test', { ...none, requiredScopes: ['mail', 'smtp'] }), { ok: false, reason: /lacks scope smtp/ });
  t.match(checkPolicy(claims, 'a@example.test', { ...none, requiredScopes: ['mail'] }), { ok: true, evidence: { scope: ['mail'] } });
  t.match(checkPolicy(claims, 'a@example.test', { ...none, requiredGroups: ['admins', 'mail-users'] }), { ok: true, evidence: { groups: ['mail-users'] } }, 'any one group suffices');
  t.match(checkPolicy(claims, 'a@example.test', { ...none, requiredGroups: ['admins'] }), { ok: false, reason: /none of admins/ });
  t.match(checkPolicy(claims, 'a@example.test', { ...none, requiredGroups: ['mail'], groupsClaim: 'realm_access.roles' }), { ok: true });
  t.match(checkPolicy(claims, 'a@example.test', { ...none, allowedDomains: ['other.test'] }), { ok: false, reason: /domain example\.test/ });
  t.match(checkPolicy(claims, 'a@sub.example.test', { ...none, allowedDomains: ['example.test'] }), { ok: false }, 'no subdomain matching');
  t.match(checkPolicy({}, 'a@example.test', { ...none, requireEmailVerified: true }), { ok: false, reason: /missing/ });
  t.match(checkPolicy({ email_verified: 'true' }, 'a@example.test', { ...none, requireEmailVerified: true }), { ok: true }, 'Google string form');
  t.match(checkPolicy({ email_verified: false }, 'a@example.test', { ...none, requireEmailVerified: true }), { ok: false, reason: /false/ });
});
