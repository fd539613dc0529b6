// The DMS-file store: foreign lines kept byte for byte, atomic writes, serialized changes,
// adoption of existing accounts, aliases, deactivation and grace removal.
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import { DmsUserStore } from '../../src/scim/store/user-store.js';
import { writeAtomic } from '../../src/state/atomic-file.js';
import type { UserInput } from '../../src/scim/store/state-file.js';

const FOREIGN_ACCOUNTS = Buffer.concat([
  Buffer.from('# managed by hand\r\n'),
  Buffer.from('admin@example.test|{SHA512-CRYPT}$6$abc$xyz\n'),
  Buffer.from([0x6a, 0xf6, 0x72, 0x67, 0x40, 0x65, 0x2e, 0x74, 0x7c, 0x7b, 0x50, 0x4c, 0x41, 0x49, 0x4e, 0x7d, 0xff, 0x0a]), // latin1, not UTF-8
  Buffer.from('   \n'),
  Buffer.from('last@example.test|{SHA512-CRYPT}$6$q$w'), // no final newline
]);
const FOREIGN_VIRTUAL = Buffer.from('# aliases\npostmaster@example.test admin@example.test\nsales@example.test  admin@example.test,last@example.test\n');

function setup(t: { teardown(fn: () => void): void }, opts: { removeAfterMs?: number; now?: () => number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'omp-scim-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'postfix-accounts.cf'), FOREIGN_ACCOUNTS);
  writeFileSync(join(dir, 'postfix-virtual.cf'), FOREIGN_VIRTUAL);
  chmodSync(join(dir, 'postfix-accounts.cf'), 0o640);
  const disabled = new DisabledUsers();
  const open = () => DmsUserStore.open({ dir, removeDeactivatedAfterMs: opts.removeAfterMs ?? 0, disabled, now: opts.now });
  const accounts = () => readFileSync(join(dir, 'postfix-accounts.cf'));
  const virtual = () => readFileSync(join(dir, 'postfix-virtual.cf'));
  return { dir, disabled, open, accounts, virtual };
}

const user = (userName: string, extra: Partial<UserInput> = {}): UserInput => ({ userName, emails: [], active: true, ...extra });

t.test('create appends one line; foreign bytes stay exactly as they were; mode is kept', async (t) => {
  const s = setup(t);
  const store = await s.open();
  const r = await store.create(user('Carol@Example.test'));
  t.match(r.id, /^[0-9a-f-]{36}$/);
  t.equal(r.mailbox, 'carol@example.test');
  t.equal(r.userName, 'Carol@Example.test');
  t.equal(r.ownsAccount, true);
  const after = s.accounts();
  t.same(after.subarray(0, FOREIGN_ACCOUNTS.length), FOREIGN_ACCOUNTS, 'foreign prefix byte for byte');
  t.match(after.subarray(FOREIGN_ACCOUNTS.length).toString(), /^\ncarol@example\.test\|\{SHA512-CRYPT\}\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}\n$/);
  t.equal(statSync(join(s.dir, 'postfix-accounts.cf')).mode & 0o777, 0o640);
  t.same(s.virtual(), FOREIGN_VIRTUAL, 'no aliases, virtual file untouched');
  t.same(readdirSync(s.dir).filter((f) => f.endsWith('.tmp')), [], 'no temp files left');

  await store.delete(r.id);
  t.same(s.accounts(), Buffer.concat([FOREIGN_ACCOUNTS, Buffer.from('\n')]), 'delete removes only our line');
  t.equal(store.get(r.id), undefined);
});

t.test('aliases: added and removed as lines of our own; conflicts are refused', async (t) => {
  const s = setup(t);
  const store = await s.open();
  const r = await store.create(user('dave@example.test', { emails: [{ value: 'dave@example.test', primary: true }, { value: 'D.Smith@Example.test' }] }));
  t.same(r.aliases, ['d.smith@example.test']);
  t.same(s.virtual(), Buffer.concat([FOREIGN_VIRTUAL, Buffer.from('d.smith@example.test dave@example.test\n')]));
  await store.update(r.id, (c) => ({ ...c, emails: [{ value: 'dave@example.test' }, { value: 'ds@example.test' }] }));
  t.same(s.virtual(), Buffer.concat([FOREIGN_VIRTUAL, Buffer.from('ds@example.test dave@example.test\n')]));
  await t.rejects(store.update(r.id, (c) => ({ ...c, emails: [{ value: 'postmaster@example.test' }] })), { code: 'ERR_SCIM_CONFLICT' }, 'foreign alias');
  await t.rejects(store.update(r.id, (c) => ({ ...c, emails: [{ value: 'admin@example.test' }] })), { code: 'ERR_SCIM_CONFLICT' }, 'an account');
  await t.rejects(store.create(user('sales@example.test')), { code: 'ERR_SCIM_CONFLICT' }, 'a mailbox that is an alias');
  await t.rejects(store.update(r.id, (c) => ({ ...c, emails: [{ value: 'not an address' }] })), { code: 'ERR_SCIM_INVALID_VALUE' });
  t.same(s.virtual(), Buffer.concat([FOREIGN_VIRTUAL, Buffer.from('ds@example.test dave@example.test\n')]), 'a refused change writes nothing');
  await store.delete(r.id);
  t.same(s.virtual(), FOREIGN_VIRTUAL);
});

t.test('an existing account is adopted and never removed', async (t) => {
  const s = setup(t);
  const store = await s.open();
  const r = await store.create(user('ADMIN@example.test'));
  t.equal(r.ownsAccount, false);
  t.same(s.accounts(), FOREIGN_ACCOUNTS, 'nothing written to the accounts file');
  await store.update(r.id, (c) => ({ ...c, active: false }));
  t.equal(s.disabled.reason('admin@example.test'), 'deactivated by the SCIM client (active=false)');
  await store.delete(r.id);
  t.same(s.accounts(), FOREIGN_ACCOUNTS);
  t.equal(s.disabled.reason('admin@example.test'), undefined, 'deleted: no longer managed, no longer disabled');
});

t.test('userName: unique, an address, never renamed', async (t) => {
  const s = setup(t);
  const store = await s.open();
  const r = await store.create(user('erin@example.test'));
  await t.rejects(store.create(user('ERIN@example.test')), { code: 'ERR_SCIM_CONFLICT' });
  await t.rejects(store.create(user('erin')), { code: 'ERR_SCIM_INVALID_VALUE' });
  await t.rejects(store.create(user('a|b@example.test')), { code: 'ERR_SCIM_INVALID_VALUE' });
  await t.rejects(store.update(r.id, (c) => ({ ...c, userName: 'other@example.test' })), { code: 'ERR_SCIM_MUTABILITY' });
  const same = await store.update(r.id, (c) => ({ ...c, userName: 'Erin@Example.test' }));
  t.equal(same.userName, 'Erin@Example.test', 'a change of case only is fine');
  await t.rejects(store.delete('nope'), { code: 'ERR_SCIM_NOT_FOUND' });
});

t.test('concurrent creates are serialized: every line lands, none is lost', async (t) => {
  const s = setup(t);
  const store = await s.open();
  const names = Array.from({ length: 40 }, (_, i) => `u${i}@example.test`);
  const results = await Promise.allSettled([...names, 'u0@example.test'].map((n) => store.create(user(n, { emails: [{ value: `alias-${n}` }] }))));
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 40);
  t.match(results.filter((r) => r.status === 'rejected'), [{ reason: { code: 'ERR_SCIM_CONFLICT' } }]);
  const text = s.accounts().toString('latin1');
  for (const n of names) t.equal(text.split('\n').filter((l) => l.startsWith(`${n}|`)).length, 1, n);
  t.equal(s.virtual().toString().split('\n').filter((l) => l.startsWith('alias-')).length, 40);
  const reopened = await s.open();
  t.equal(reopened.list().length, 40, 'the state file has them all');
});

t.test('deactivation: disabled at once, kept by default, removed after the grace, restored on reactivation', async (t) => {
  let now = Date.parse('2025-01-01T00:00:00Z');
  const s = setup(t, { removeAfterMs: 50, now: () => now });
  const store = await s.open();
  const r = await store.create(user('frank@example.test', { emails: [{ value: 'fr@example.test' }] }));
  await store.update(r.id, (c) => ({ ...c, active: false }));
  t.ok(s.disabled.reason('FRANK@example.test'));
  t.equal(await store.sweep(), 0, 'grace not over');
  t.match(s.accounts().toString('latin1'), /frank@example\.test\|/);
  now += 51;
  t.equal(await store.sweep(), 1);
  t.notMatch(s.accounts().toString('latin1'), /frank@example\.test\|/, 'account line removed');
  t.same(s.virtual(), FOREIGN_VIRTUAL, 'alias removed');
  t.equal(store.get(r.id)?.accountRemoved, true, 'the SCIM user stays (the IdP still knows it)');
  t.equal(await store.sweep(), 0, 'nothing left to do');
  const back = await store.update(r.id, (c) => ({ ...c, active: true }));
  t.equal(back.accountRemoved, undefined);
  t.match(s.accounts().toString('latin1'), /frank@example\.test\|\{SHA512-CRYPT\}/);
  t.match(s.virtual().toString(), /fr@example\.test frank@example\.test/);
  t.equal(s.disabled.reason('frank@example.test'), undefined);

  const keep = setup(t, { removeAfterMs: 0, now: () => now });
  const k = await keep.open();
  const kr = await k.create(user('gina@example.test', { active: false }));
  now += 10 * 365 * 86_400_000;
  t.equal(await k.sweep(), 0, 'default: never removed');
  t.match(keep.accounts().toString('latin1'), /gina@example\.test\|/);
  t.ok(keep.disabled.reason('gina@example.test'), 'created inactive: disabled');
  const reopenedDisabled = new DisabledUsers();
  const { DmsUserStore: S } = await import('../../src/scim/store/user-store.js');
  await S.open({ dir: keep.dir, removeDeactivatedAfterMs: 0, disabled: reopenedDisabled });
  t.ok(reopenedDisabled.reason('gina@example.test'), 'disabled again after a restart, from the state file');
  t.ok(kr.deactivatedAt);
});

t.test('the sweeper timer removes accounts on its own', async (t) => {
  const s = setup(t, { removeAfterMs: 20 });
  const store = await s.open();
  t.teardown(() => store.close());
  const r = await store.create(user('hank@example.test', { active: false }));
  store.startSweeper(10);
  const deadline = Date.now() + 3000;
  while (!store.get(r.id)?.accountRemoved && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
  t.equal(store.get(r.id)?.accountRemoved, true);
  t.notMatch(s.accounts().toString('latin1'), /hank@/);
});

t.test('writeAtomic: the target is replaced whole, a new file gets the given mode', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'omp-atomic-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'state.json');
  await writeAtomic(f, Buffer.from('one'), 0o600);
  t.equal(statSync(f).mode & 0o777, 0o600);
  const ino = statSync(f).ino;
  await writeAtomic(f, Buffer.from('two'));
  t.equal(readFileSync(f, 'utf8'), 'two');
  t.not(statSync(f).ino, ino, 'a new inode: renamed over, never written in place');
  t.equal(statSync(f).mode & 0o777, 0o600, 'mode kept');
  t.same(readdirSync(dir), ['state.json']);
});

t.test('deleted with its account line: refused, also after a restart, until created again', async (t) => {
  const s = setup(t);
  const store = await s.open();
  const r = await store.create(user('hana@example.test'));
  t.match(s.accounts().toString('latin1'), /hana@example\.test\|/);
  await store.delete(r.id);
  t.notMatch(s.accounts().toString('latin1'), /hana@example\.test\|/, 'the line is gone');
  t.equal(s.disabled.reason('HANA@example.test'), 'deleted by the SCIM client', 'refused like a deactivated user');
  const reopened = new DisabledUsers();
  const { DmsUserStore: S } = await import('../../src/scim/store/user-store.js');
  const again = await S.open({ dir: s.dir, removeDeactivatedAfterMs: 0, disabled: reopened });
  t.equal(reopened.reason('hana@example.test'), 'deleted by the SCIM client', 'still refused after a restart, from the state file');
  await again.create(user('hana@example.test'));
  t.equal(reopened.reason('hana@example.test'), undefined, 'created again: no longer refused');
  const third = new DisabledUsers();
  await S.open({ dir: s.dir, removeDeactivatedAfterMs: 0, disabled: third });
  t.equal(third.reason('hana@example.test'), undefined, 'and the re-creation is kept');
});
