// The xclient-mode account check caches "exists" for minutes; a user the SCIM client deleted
// or deactivated must be asked about again at once (smtp/service.ts calls forget() from the
// DisabledUsers watcher), or a still-valid token keeps sending through XCLIENT meanwhile.
import t from 'tap';
import { Duplex } from 'node:stream';
import { AccountCheck } from '../../src/backend/account-check.js';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import type { ImapLoginResult } from '../../src/backend/imap-login.js';
import type { BackendClient, BackendTarget, BackendUser } from '../../src/backend/login-result.js';
import { idFieldsFor } from '../../src/backend/targets.js';

const client = { address: '192.0.2.1', port: 40000, localAddress: '127.0.0.1', localPort: 587, tls: true };

function fakeDovecot(accounts: Set<string>): { login: BackendTarget<{ capabilities: string }>; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    login: async (who) => {
      const user = who.kind === 'vouched' ? who.user : '';
      asked.push(user);
      if (!accounts.has(user)) return { ok: false, kind: 'rejected', reason: 'no such user' } as ImapLoginResult;
      const socket = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
      return { ok: true, socket, leftover: Buffer.alloc(0), loginMs: 1 } as unknown as ImapLoginResult;
    },
  };
}

t.test('a cached "exists" is forgotten when the user is disabled or removed', async (t) => {
  const accounts = new Set(['alice@example.test']);
  const dovecot = fakeDovecot(accounts);
  const check = new AccountCheck(dovecot.login);
  const disabled = new DisabledUsers();
  disabled.onDisabled((user) => check.forget(user));

  t.equal(await check.exists('alice@example.test', client), 'exists');
  t.equal(await check.exists('Alice@Example.test', client), 'exists', 'cached (ASCII case folded)');
  t.same(dovecot.asked, ['alice@example.test'], 'Dovecot asked once');

  accounts.delete('alice@example.test'); // the account is gone from DMS
  disabled.removed('ALICE@example.test', 'deleted by the SCIM client');
  t.equal(await check.exists('alice@example.test', client), 'missing', 'asked again: no account');
  t.equal(dovecot.asked.length, 2);
});

t.test('the check names the client to Dovecot (its auth penalty is per remote IP); NO [LIMIT] means the account exists, uncached', async (t) => {
  const seen: Array<{ who: BackendUser; client: BackendClient }> = [];
  const check = new AccountCheck(async (who, c) => {
    seen.push({ who, client: c });
    return { ok: false, kind: 'unavailable', reason: 'backend answered NO [LIMIT] Maximum number of connections', undecided: true, code: 'LIMIT' };
  });
  t.equal(await check.exists('bob@example.test', client), 'exists');
  t.same(seen[0]!.who, { kind: 'vouched', user: 'bob@example.test' }, 'a master login for the user');
  t.equal(seen[0]!.client, client, 'for this client');
  // What the IMAP target sends Dovecot in ID for that client (src/backend/targets.ts):
  t.same(Object.fromEntries(idFieldsFor(seen[0]!.client)), { 'x-originating-ip': '192.0.2.1', 'x-originating-port': '40000', 'x-connected-ip': '127.0.0.1', 'x-connected-port': '587' });
  t.equal(await check.exists('bob@example.test', client), 'exists');
  t.equal(seen.length, 2, 'not cached');
});
