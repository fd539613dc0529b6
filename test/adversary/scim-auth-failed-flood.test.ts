// Adversary: the SCIM listener is often reachable from the internet (a cloud IdP provisions
// through it). Every request refused for its token was one warn `scim-auth-failed` line, so
// anyone who can reach the port writes log lines at their request rate: 400 requests, 400
// lines, a full disk or a log pipeline's quota in an afternoon. The mail ports bound their
// refusal lines (REFUSAL_LOG_WINDOW_MS: the first per client, then one per window with the
// count left out); a SCIM token guess must be visible the same way, not repeated per request.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';
import { startScim } from '../../src/scim/server.js';
import { DmsUserStore } from '../../src/scim/store/user-store.js';
import { DisabledUsers } from '../../src/auth/disabled-users.js';

const lines: Array<Record<string, unknown>> = [];
const log = createLogger('info', new Writable({ write(c: Buffer, _e, cb) { lines.push(JSON.parse(c.toString())); cb(); } }));
const dir = mkdtempSync(join(tmpdir(), 'omp-scim-flood-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'postfix-accounts.cf'), '');
const store = await DmsUserStore.open({ dir, removeDeactivatedAfterMs: 0, disabled: new DisabledUsers(), log });
const TOKEN = 'scim-flood-token-0123456789abcdef';
const scim = await startScim({ listen: { host: '127.0.0.1', port: 0 }, token: TOKEN, store, log });
t.teardown(() => scim.close());
const url = `http://127.0.0.1:${scim.address().port}/scim/v2/Users`;

t.test('200 refused requests from one client: one line per kind of refusal within the window', async (t) => {
  for (let i = 0; i < 100; i++) {
    t.equal((await fetch(url)).status, 401, 'no token: 401');
    t.equal((await fetch(url, { headers: { authorization: `Bearer guess-${i}` } })).status, 401, 'wrong token: 401');
  }
  const refused = lines.filter((l) => l.event === 'scim-auth-failed');
  t.equal(refused.length, 2, `one line for each kind of refusal, not one per request (${refused.length})`);
  t.same(refused.map((l) => l.reason).sort(), ['no bearer token', 'wrong token']);
  t.equal((await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200, 'the right token still works');
});
