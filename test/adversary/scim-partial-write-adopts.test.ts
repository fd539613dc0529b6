// Adversary: a SCIM change writes postfix-accounts.cf, then postfix-virtual.cf, then the state
// file. When a later write fails (disk full, EIO, a read-only remount; here the state file's
// path is made a non-empty directory after start-up, so its rename fails the same way) the
// request is answered 500 but the lines already written stay, owned by nobody. The identity
// provider retries the POST once the disk is fixed, and the proxy now finds "its" account line
// and *adopts* it as an admin's hand-made account: a later DELETE leaves the account in DMS
// and does not refuse the user, so the deleted user's tokens (and PROVISION_ON_LOGIN) keep
// getting in. An alias line left the same way is never removed when the IdP drops the email:
// mail to it keeps going to the user. A write that fails must leave the files as they were.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import { DmsUserStore } from '../../src/scim/store/user-store.js';
import { STATE_FILE } from '../../src/scim/store/state-file.js';

async function setup(t: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'omp-scim-partial-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'postfix-accounts.cf'), 'admin@example.test|{SHA512-CRYPT}$6$abc$xyz\n');
  writeFileSync(join(dir, 'postfix-virtual.cf'), '');
  const disabled = new DisabledUsers();
  const store = await DmsUserStore.open({ dir, removeDeactivatedAfterMs: 0, disabled });
  const state = join(dir, STATE_FILE);
  return {
    store, disabled,
    accounts: () => readFileSync(join(dir, 'postfix-accounts.cf'), 'utf8'),
    virtual: () => readFileSync(join(dir, 'postfix-virtual.cf'), 'utf8'),
    /** The state file cannot be written (its path a non-empty directory) until `fix()`. */
    breakState: () => { rmSync(state, { force: true }); mkdirSync(join(state, 'x'), { recursive: true }); },
    fix: () => rmSync(state, { recursive: true, force: true }),
  };
}

t.test('a create whose state write fails, retried: the retry does not adopt the proxy\'s own line', async (t) => {
  const s = await setup(t);
  s.breakState();
  await t.rejects(s.store.create({ userName: 'carol@example.test', emails: [], active: true }), 'the first POST fails');
  t.notMatch(s.accounts(), /^carol@example\.test\|/m, 'the failed POST leaves no account line behind');
  s.fix();
  const r = await s.store.create({ userName: 'carol@example.test', emails: [], active: true });
  t.equal(r.ownsAccount, true, 'the retried POST writes (and owns) the account');
  await s.store.delete(r.id);
  t.notMatch(s.accounts(), /^carol@example\.test\|/m, 'DELETE removes the account line');
  t.ok(s.disabled.reason('carol@example.test'), 'and the deleted user is refused');
});

t.test('an email added where the state write fails: no alias line stays behind', async (t) => {
  const s = await setup(t);
  const r = await s.store.create({ userName: 'dave@example.test', emails: [], active: true });
  s.breakState();
  await t.rejects(s.store.update(r.id, (c) => ({ ...c, emails: [{ value: 'sales@example.test' }] })), 'the PATCH fails');
  t.equal(s.virtual(), '', 'the failed PATCH leaves no alias line behind');
  s.fix();
  await s.store.update(r.id, (c) => ({ ...c, emails: [{ value: 'sales@example.test' }] }));
  await s.store.update(r.id, (c) => ({ ...c, emails: [] }));
  t.equal(s.virtual(), '', 'the email dropped later: its alias line is removed');
});
