// The first-login provisioner against real DMS files in a temp dir (issue 19). Dovecot's
// answer is the one fake (an AccountCheck that says what the test needs): the e2e test
// test/e2e/provision-on-login.test.ts runs the same against real Dovecot and Postfix.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccountCheck, AccountAnswer } from '../../src/backend/account-check.js';
import type { BackendClient } from '../../src/backend/login-result.js';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import { createLogger } from '../../src/observability/logger.js';
import { DmsUserStore } from '../../src/scim/store/user-store.js';
import { LoginProvisioner } from '../../src/session/provision.js';
import { DmsConfigDir } from '../../src/state/dms/config-dir.js';

const client: BackendClient = { address: '192.0.2.7', port: 50000, localAddress: '127.0.0.1', localPort: 993, tls: true };
const log = createLogger('silent');

function setup(t: { teardown(fn: () => void): void }, dovecot: (user: string) => AccountAnswer = () => 'exists') {
  const dir = mkdtempSync(join(tmpdir(), 'omp-provision-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files = new DmsConfigDir(dir);
  const disabled = new DisabledUsers();
  const asked: string[] = [];
  const accounts = {
    exists: async (user: string) => { asked.push(user); return dovecot(user); },
    forget: () => {},
  } as unknown as AccountCheck;
  const provisioner = new LoginProvisioner(files, accounts, 1000, log, disabled, { first: 10, interval: 10 });
  const lines = () => { try { return readFileSync(join(dir, 'postfix-accounts.cf'), 'latin1').split('\n').filter(Boolean); } catch { return []; } };
  return { dir, files, provisioner, asked, lines, disabled };
}

t.test('a new mailbox: one line with an unusable password, then ready once Dovecot knows it', async (t) => {
  const s = setup(t);
  t.same(await s.provisioner.ensure('Dave@Example.test', client), { kind: 'ready', mailbox: 'dave@example.test' });
  t.equal(s.lines().length, 1);
  t.match(s.lines(), [/^dave@example\.test\|\{SHA512-CRYPT\}\$6\$[^$]+\$[./0-9A-Za-z]{86}$/]);
  t.same(await s.provisioner.ensure('dave@example.test', client), { kind: 'exists', mailbox: 'dave@example.test' }, 'the next login: found in the file');
  t.same(s.asked, ['dave@example.test'], 'Dovecot was asked only while waiting');
});

t.test('an address DMS cannot hold is never written (no line injection into postfix-accounts.cf)', async (t) => {
  const s = setup(t);
  for (const bad of ['x|{PLAIN}pw@example.test', 'a@example.test\nroot@example.test|{PLAIN}x', '#c@example.test', 'no-at-sign', 'ünï@example.test']) {
    t.equal((await s.provisioner.ensure(bad, client)).kind, 'skipped', JSON.stringify(bad));
  }
  t.same(s.lines(), []);
});

t.test('an address that is an alias in postfix-virtual.cf gets no account line', async (t) => {
  const s = setup(t);
  writeFileSync(join(s.dir, 'postfix-virtual.cf'), 'sales@example.test admin@example.test\n');
  t.same(await s.provisioner.ensure('sales@example.test', client), { kind: 'exists', mailbox: 'sales@example.test' });
  t.same(s.lines(), []);
});

t.test('parallel first logins of one user: one line, one wait', async (t) => {
  const s = setup(t);
  const results = await Promise.all(Array.from({ length: 8 }, () => s.provisioner.ensure('erin@example.test', client)));
  t.ok(results.every((r) => r.kind === 'ready'));
  t.equal(s.lines().length, 1);
  t.same(s.asked, ['erin@example.test'], 'one flight asked Dovecot once');
});

t.test('Dovecot never knows it: unavailable within the wait; the next login waits again', async (t) => {
  const s = setup(t, () => 'missing');
  const started = Date.now();
  const r = await s.provisioner.ensure('frank@example.test', client);
  t.equal(r.kind, 'unavailable');
  t.ok(Date.now() - started < 1000 + 500, 'bounded by waitMs');
  t.equal((await s.provisioner.ensure('frank@example.test', client)).kind, 'unavailable', 'its line is ours and still not taken up: not "exists"');
  t.equal(s.lines().length, 1, 'written once');
});

t.test('SCIM and first-login accounts share one writer: concurrent changes keep every line', async (t) => {
  const s = setup(t);
  const store = await DmsUserStore.open({ dir: s.files, removeDeactivatedAfterMs: 0, disabled: new DisabledUsers() });
  t.teardown(() => store.close());
  const n = 10;
  await Promise.all(Array.from({ length: n }, (_, i) => [
    store.create({ userName: `scim${i}@example.test`, emails: [], active: true }),
    s.provisioner.ensure(`login${i}@example.test`, client),
  ]).flat());
  const addresses = s.lines().map((l) => l.split('|')[0]).sort();
  t.equal(addresses.length, 2 * n, 'no line lost');
  for (let i = 0; i < n; i++) t.ok(addresses.includes(`scim${i}@example.test`) && addresses.includes(`login${i}@example.test`), `both of pair ${i}`);
});

t.test('a user SCIM deleted after the login was decided: refused under the writer, the account is not written back', async (t) => {
  const s = setup(t);
  const store = await DmsUserStore.open({ dir: s.files, removeDeactivatedAfterMs: 0, disabled: s.disabled });
  t.teardown(() => store.close());
  const r = await store.create({ userName: 'ivan@example.test', emails: [], active: true });
  t.equal(s.lines().length, 1);
  // The login's decision is taken (a valid token, ivan not refused yet); SCIM's DELETE runs
  // on the writer before the provisioning gets there.
  await store.delete(r.id);
  t.same(await s.provisioner.ensure('ivan@example.test', client), { kind: 'refused', reason: 'deleted by the SCIM client' });
  t.same(s.lines(), [], 'no line written back');
  t.same(await s.provisioner.ensure('ivan@example.test', client), { kind: 'refused', reason: 'deleted by the SCIM client' }, 'nor on a later login');
  t.same(s.lines(), []);
});

t.test('an account check that throws (a bug, not an answer): unavailable at once, one error line, and a retry works', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const captured = createLogger('info', { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  const dir = mkdtempSync(join(tmpdir(), 'omp-provision-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let broken = true;
  const accounts = {
    // Thrown at once, not a rejection: the stub stands for a master login that throws synchronously.
    exists: (): Promise<AccountAnswer> => { if (broken) throw new TypeError('injected: the master login threw'); return Promise.resolve('exists'); },
    forget: () => {},
  } as unknown as AccountCheck;
  const provisioner = new LoginProvisioner(new DmsConfigDir(dir), accounts, 5000, captured, new DisabledUsers(), { first: 10, interval: 10 });
  const started = Date.now();
  // Before: ensure() rejected, and every caller turned that into a bug (the portal's 500).
  const results = await Promise.all([provisioner.ensure('gina@example.test', client), provisioner.ensure('gina@example.test', client)]);
  t.ok(Date.now() - started < 2000, 'not waited out to PROVISION_WAIT_MS');
  for (const r of results) t.match(r, { kind: 'unavailable', reason: /account check failed.*injected: the master login threw/ });
  const errors = lines.filter((l) => (l.level as number) >= 50);
  t.equal(errors.length, 1, 'one error line for the one flight');
  t.match(errors[0], { event: 'provision-failed', user: 'gina@example.test' });
  broken = false;
  t.same(await provisioner.ensure('gina@example.test', client), { kind: 'ready', mailbox: 'gina@example.test' }, 'the retry waits for DMS again and is let in');
  t.same(await provisioner.ensure('gina@example.test', client), { kind: 'exists', mailbox: 'gina@example.test' }, 'and is no longer pending');
});
