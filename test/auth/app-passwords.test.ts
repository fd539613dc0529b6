// App passwords with plain values: the generated form, what a user may type, matching (every
// record checked, a dummy check when there is none), and the Authenticator's decisions.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateAppPassword, hashAppPassword, matchAppPassword, normalizeAppPassword, type AppPasswordRecord } from '../../src/auth/app-passwords.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import { AppPasswordFile } from '../../src/state/app-password-file.js';
import { MAX_APP_PASSWORDS_PER_USER } from '../../src/limits.js';

t.test('generated: five groups of four from an alphabet without look-alikes, never twice the same', async (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const p = generateAppPassword();
    t.match(p, /^[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){4}$/);
    seen.add(p);
  }
  t.equal(seen.size, 200);
  t.equal(normalizeAppPassword('ABCD EFGH-jkmn pqrs-TUVW'), 'abcd-efgh-jkmn-pqrs-tuvw', 'case, spaces and dashes forgiven');
  t.equal(normalizeAppPassword('abcd-efgh-jkmn-pqrs-tuv0'), null, '0 is not in the alphabet');
  t.equal(normalizeAppPassword('abcd-efgh'), null, 'too short');
});

t.test('matching: the right record, none for a wrong password, a malformed hash never matches', async (t) => {
  const secret = generateAppPassword();
  const rec = (id: string, hash: string): AppPasswordRecord => ({ id, user: 'a@example.test', label: id, createdAt: 0, hash });
  const records = [rec('other', await hashAppPassword(generateAppPassword())), rec('mine', await hashAppPassword(secret)), rec('broken', 'scrypt$4096$8$1$AAAA$BBBB')];
  t.equal((await matchAppPassword(secret, records))?.id, 'mine');
  t.equal((await matchAppPassword(secret.toUpperCase(), records))?.id, 'mine');
  t.equal(await matchAppPassword(generateAppPassword(), records), undefined);
  t.equal(await matchAppPassword(secret, []), undefined, 'no records: a dummy check, no match');
  t.equal(await matchAppPassword('', records), undefined);
});

t.test('the Authenticator: an app password is vouched for; a disabled user, a master login, another password are not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'omp-app-pw-unit-'));
  const store = await AppPasswordFile.open(join(dir, 'state.json'));
  t.teardown(() => store.close());
  const { secret, record } = await store.create('Alice@Example.test', 'Phone');
  t.equal(record.user, 'alice@example.test', 'stored by the user in lower case');
  const disabled = new DisabledUsers();
  const auth = new Authenticator({ check: async () => { throw new Error('no tokens here'); } } as never, undefined, { appPasswords: store, disabled });
  const pw = (username: string, password: string, authzid?: string) => auth.decide({ kind: 'password', mechanism: 'PLAIN', authzid, username, password });
  t.match(await pw('alice@example.test', secret), { outcome: 'token', user: 'alice@example.test', appPassword: record.id });
  t.match(await pw('ALICE@example.test', secret), { outcome: 'token' }, 'the user name in any ASCII case');
  t.match(await pw('alice@example.test', 'her DMS password'), { outcome: 'password', password: 'her DMS password' }, 'other passwords go to DMS');
  t.match(await pw('bob@example.test', secret), { outcome: 'password' }, 'not bob\'s');
  t.match(await pw('alice@example.test*master', secret), { outcome: 'rejected' }, 'a master-user login is not an app-password login');
  disabled.disable('alice@example.test', 'deactivated by the SCIM client');
  t.match(await pw('alice@example.test', secret), { outcome: 'rejected', reason: /disabled/ });
});

t.test('the store: at most MAX_APP_PASSWORDS_PER_USER; revoke one or all; last use batched', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'omp-app-pw-unit-'));
  const path = join(dir, 'state.json');
  const store = await AppPasswordFile.open(path);
  const made: Array<{ record: AppPasswordRecord; secret: string }> = [];
  for (let i = 0; i < MAX_APP_PASSWORDS_PER_USER; i++) made.push(await store.create('a@example.test', `n${i}`));
  await t.rejects(store.create('a@example.test', 'one too many'), { code: 'ERR_APP_PASSWORD_LIMIT' });
  t.equal(await store.revoke('a@example.test', made[0]!.record.id), 1);
  store.used(made[1]!.record.id, 1234, '192.0.2.1', 'imap');
  t.match((await store.list('a@example.test')).find((r) => r.id === made[1]!.record.id), { lastUsedAt: 1234, lastAddress: '192.0.2.1', lastProtocol: 'imap' }, 'seen at once');
  const other = await AppPasswordFile.open(path); // the CLI, another process
  t.notOk((await other.list('a@example.test')).find((r) => r.id === made[1]!.record.id)?.lastUsedAt, 'not written per login');
  await store.close();
  t.equal((await other.list('a@example.test')).find((r) => r.id === made[1]!.record.id)?.lastUsedAt, 1234, 'written at close, seen by the other reader');
  t.equal(await other.revoke('a@example.test', 'all'), MAX_APP_PASSWORDS_PER_USER - 1);
  await other.close();
});
