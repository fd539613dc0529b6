// Adversary: MAX_SCIM_EMAILS (src/limits.ts: "Most emails of one SCIM user (each becomes an
// alias line in postfix-virtual.cf)") holds for POST, PUT and a PATCH whose one value is a
// list over the cap, but PATCH `add` appends: two adds of 60 each (or one request with two
// operations) leave a user with 120 emails and 119 alias lines. Repeated, a SCIM client
// grows postfix-virtual.cf and the state file without bound, one 64 KiB request at a time.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import { createLogger } from '../../src/observability/logger.js';
import { startScim } from '../../src/scim/server.js';
import { DmsUserStore } from '../../src/scim/store/user-store.js';
import { MAX_SCIM_EMAILS } from '../../src/limits.js';
import { scimClient } from '../harness/scim-client.js';

const TOKEN = 'scim-test-token-0123456789abcdef';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const dir = mkdtempSync(join(tmpdir(), 'adv-scim-cap-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'postfix-accounts.cf'), '');
const log = createLogger('silent');
const store = await DmsUserStore.open({ dir, removeDeactivatedAfterMs: 0, disabled: new DisabledUsers(), log });
const listener = await startScim({ listen: { host: '127.0.0.1', port: 0 }, token: TOKEN, store, log });
t.teardown(() => listener.close());
const scim = scimClient(`http://127.0.0.1:${listener.address().port}/scim/v2`, TOKEN, 10_000);
const aliasLines = () => { try { return readFileSync(join(dir, 'postfix-virtual.cf'), 'latin1').split('\n').filter(Boolean).length; } catch { return 0; } };
const emails = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ value: `${prefix}${i}@example.test` }));
const half = Math.ceil(MAX_SCIM_EMAILS * 0.6);

t.test('control: POST with more than MAX_SCIM_EMAILS emails is refused', async (t) => {
  const r = await scim('POST', '/Users', { schemas: [USER], userName: 'ctl@example.test', emails: emails('c', MAX_SCIM_EMAILS + 1) });
  t.equal(r.status, 400);
});

t.test('PATCH add, twice: the user never holds more than MAX_SCIM_EMAILS emails', async (t) => {
  const created = await scim('POST', '/Users', { schemas: [USER], userName: 'grow@example.test' });
  t.equal(created.status, 201);
  const id = created.json.id as string;
  for (const p of ['a', 'b']) {
    await scim('PATCH', `/Users/${id}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'emails', value: emails(p, half) }] });
  }
  const got = await scim('GET', `/Users/${id}`);
  const n = (got.json.emails as unknown[] | undefined)?.length ?? 0;
  t.ok(n <= MAX_SCIM_EMAILS, `emails stored: ${n} (cap ${MAX_SCIM_EMAILS})`);
  t.ok(aliasLines() <= MAX_SCIM_EMAILS, `alias lines in postfix-virtual.cf: ${aliasLines()}`);
});

t.test('one PATCH with two add operations: refused or held to the cap', async (t) => {
  const created = await scim('POST', '/Users', { schemas: [USER], userName: 'grow2@example.test' });
  const id = created.json.id as string;
  const r = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH], Operations: [
    { op: 'add', path: 'emails', value: emails('x', half) },
    { op: 'add', path: 'emails', value: emails('y', half) },
  ] });
  const got = await scim('GET', `/Users/${id}`);
  const n = (got.json.emails as unknown[] | undefined)?.length ?? 0;
  t.ok(n <= MAX_SCIM_EMAILS, `PATCH status ${r.status}; emails stored: ${n} (cap ${MAX_SCIM_EMAILS})`);
});
