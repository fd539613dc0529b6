// Identities are case-folded the way Dovecot folds them, ASCII only (issue 16, item 4):
// JavaScript's Unicode toLowerCase() turns KELVIN SIGN (U+212A) into "k", which made a
// userinfo email "\u212Aate@..." log in as kate. Every place that folds a name is covered.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asciiLower, asciiUpper, canonicalAddress } from '../../src/auth/address.js';
import { mapUsername, sameUser } from '../../src/auth/claims.js';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import { parseSaslMechanism } from '../../src/auth/sasl/index.js';
import { mailAddress } from '../../src/state/dms/mail-address.js';
import { route } from '../../src/scim/router.js';
import { DmsUserStore } from '../../src/scim/store/user-store.js';

const KELVIN = '\u212A'; // K, lower-cases to "k" in JavaScript
const KATE = 'kate@example.test';

t.test('ASCII folding keeps every non-ASCII character as it is', async (t) => {
  t.equal(asciiLower(`${KELVIN}ATE@Example.TEST`), `${KELVIN}ate@example.test`);
  t.equal(asciiUpper('plaın'), 'PLAıN', 'dotless i stays');
  t.equal(asciiUpper('ſmtp'), 'ſMTP', 'long s stays');
  t.equal(canonicalAddress('Kate@Example.Test'), KATE);
  t.equal(canonicalAddress(`${KELVIN}ate@example.test`), null);
  t.equal(canonicalAddress('kate@ex\u212Ample.test'), null, 'in the domain too');
});

t.test('claims: a non-ASCII or padded address names no mailbox', async (t) => {
  t.same(mapUsername({ email: 'Kate@Example.TEST' }, 'email'), { ok: true, user: KATE, claim: 'email' }, 'ASCII case folds');
  t.match(mapUsername({ email: `${KELVIN}ate@example.test` }, 'email'), { ok: false, reason: /not a mailbox address/ }, 'KELVIN SIGN');
  t.match(mapUsername({ email: `${KATE}\u00a0` }, 'email'), { ok: false }, 'NO-BREAK SPACE after it (JavaScript trim() removes it)');
  t.match(mapUsername({ email: `\u3000${KATE}` }, 'email'), { ok: false }, 'IDEOGRAPHIC SPACE before it');
  t.match(mapUsername({ email: ` ${KATE}` }, 'email'), { ok: false }, 'ASCII space: Dovecot refuses it too');
  t.match(mapUsername({ email: 'jürgen@example.test' }, 'email'), { ok: false }, 'SMTPUTF8 local part');
  t.match(mapUsername({ preferred_username: `${KELVIN}ate` }, 'preferred_username', 'example.test'), { ok: false }, 'bare name + default domain');
  t.match(mapUsername({ email: 'kate*proxy@example.test' }, 'email'), { ok: false }, "Dovecot's master separator");
  t.same(mapUsername({ upn: `${KELVIN}ate@example.test`, email: 'k2@example.test' }, 'upn email'), { ok: true, user: 'k2@example.test', claim: 'email' }, 'next alternative');
});

t.test('SASL user name vs the token user: ASCII case only', async (t) => {
  t.ok(sameUser('KATE@example.TEST', KATE));
  t.ok(sameUser(` ${KATE}\t`, KATE), 'ASCII blanks around it are tolerated (a name typed by hand)');
  t.notOk(sameUser(`${KELVIN}ate@example.test`, KATE), 'KELVIN SIGN is another name');
  t.notOk(sameUser(`${KATE}\u00a0`, KATE), 'so is a NO-BREAK SPACE');
});

t.test('SASL mechanism names: ASCII case only', async (t) => {
  t.equal(parseSaslMechanism('plain'), 'PLAIN');
  t.equal(parseSaslMechanism('plaın'), undefined);
});

t.test('deactivation list: keyed by ASCII case', async (t) => {
  const d = new DisabledUsers();
  d.disable('Kate@Example.test', 'scim');
  t.equal(d.reason('KATE@EXAMPLE.TEST'), 'scim');
  t.equal(d.reason(`${KELVIN}ate@example.test`), undefined, 'not the same name for Dovecot either (it refuses it)');
});

t.test('SCIM: userName and filters fold ASCII case only', async (t) => {
  t.equal(mailAddress('Kate@Example.test'), KATE);
  t.equal(mailAddress(' Kate@Example.test '), null, 'nothing is trimmed: a value DMS cannot hold as it is is refused');
  t.equal(mailAddress(`${KELVIN}ate@example.test`), null, 'refused, not mapped onto kate');
  const dir = mkdtempSync(join(tmpdir(), 'omp-scim-ascii-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = await DmsUserStore.open({ dir, removeDeactivatedAfterMs: 0, disabled: new DisabledUsers() });
  const kate = await store.create({ userName: KATE, emails: [], active: true });
  t.equal(store.findByUserName('KATE@example.test')?.id, kate.id);
  t.equal(store.findByUserName(`${KELVIN}ate@example.test`), undefined);
  const list = async (userName: string) => {
    const r = await route(store, { method: 'GET', path: '/Users', base: '/scim/v2', query: new URLSearchParams({ filter: `userName eq "${userName}"` }), body: undefined });
    return (r.body as { totalResults: number }).totalResults;
  };
  t.equal(await list('Kate@example.test'), 1);
  t.equal(await list(`${KELVIN}ate@example.test`), 0, 'an IdP user "\u212Aate" does not find kate (and so cannot update her)');
  await t.rejects(store.create({ userName: `${KELVIN}ate@example.test`, emails: [], active: true }), { code: 'ERR_SCIM_INVALID_VALUE' });
});
