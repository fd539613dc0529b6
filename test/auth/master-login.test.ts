// Password logins that ask Dovecot to act as another user (issue 16, item 6): the master
// separator in the user name, or a PLAIN authzid other than the authcid. Refused unless
// ALLOW_CLIENT_MASTER_LOGIN; when allowed, deactivation applies to the target user and the
// decision names the target (what revocation indexes the session under).
import t from 'tap';
import { Authenticator } from '../../src/auth/authenticator.js';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import { impersonation } from '../../src/auth/master-login.js';
import type { SaslCredentials } from '../../src/auth/sasl/index.js';

const noTokens = { check: async () => { throw new Error('no token expected'); } };
const password = (username: string, authzid?: string, mechanism: 'PLAIN' | 'LOGIN' = 'PLAIN'): SaslCredentials =>
  ({ kind: 'password', mechanism, authzid, username, password: 'secret' });
const ALICE = 'alice@example.test';

t.test('who Dovecot acts as (auth-request.c / mech-plain.c)', async (t) => {
  t.equal(impersonation(ALICE, undefined), undefined);
  t.equal(impersonation(ALICE, ALICE), undefined, 'authzid equal to the authcid is no authzid');
  t.same(impersonation('proxy', ALICE), { target: ALICE, via: 'authzid' });
  t.same(impersonation('Alice@example.test', ALICE), { target: ALICE, via: 'authzid' }, 'byte-wise: Dovecot compares with strcmp');
  t.same(impersonation(`${ALICE}*proxy`, undefined), { target: ALICE, via: 'separator' });
  t.same(impersonation(`${ALICE}*proxy`, `${ALICE}*proxy`), { target: ALICE, via: 'separator' });
  t.same(impersonation('a*b*c', undefined), { target: 'a', via: 'separator' }, 'the first separator splits');
});

t.test('default: every impersonating form is refused before the backend is asked', async (t) => {
  const a = new Authenticator(noTokens as never);
  for (const [creds, what] of [
    [password(`${ALICE}*proxy`), 'PLAIN/LOGIN command with the separator'],
    [password(`${ALICE}*proxy`, undefined, 'LOGIN'), 'SASL LOGIN with the separator'],
    [password('proxy', ALICE), 'PLAIN authzid != authcid'],
    [password(ALICE, 'bob@example.test'), 'a user acting as another user'],
  ] as const) {
    t.match(await a.decide(creds), { outcome: 'rejected', reason: /ALLOW_CLIENT_MASTER_LOGIN/ }, what);
  }
  t.match(await a.decide(password(ALICE, ALICE)), { outcome: 'password', user: ALICE }, 'authzid = authcid is an ordinary login');
  t.match(await a.decide(password(ALICE)), { outcome: 'password', user: ALICE, username: ALICE });
});

t.test('allowed: passed through as sent, decided and indexed as the target user', async (t) => {
  const disabled = new DisabledUsers();
  const a = new Authenticator(noTokens as never, undefined, { disabled, allowClientMasterLogin: true });
  t.match(await a.decide(password(`${ALICE}*proxy`)), { outcome: 'password', user: ALICE, username: `${ALICE}*proxy`, authzid: undefined });
  t.match(await a.decide(password('proxy', ALICE)), { outcome: 'password', user: ALICE, username: 'proxy', authzid: ALICE });
  disabled.disable(ALICE, 'scim');
  t.match(await a.decide(password(`${ALICE}*proxy`)), { outcome: 'rejected', reason: /user disabled/, user: ALICE }, 'separator: the target is deactivated');
  t.match(await a.decide(password(`ALICE@example.test*proxy`)), { outcome: 'rejected', reason: /user disabled/ }, 'in any ASCII case');
  t.match(await a.decide(password('proxy', ALICE)), { outcome: 'rejected', reason: /user disabled/ }, 'authzid: the target is deactivated');
  t.match(await a.decide(password(ALICE)), { outcome: 'rejected', reason: /user disabled/ });
  t.match(await a.decide(password(`bob@example.test*proxy`)), { outcome: 'password', user: 'bob@example.test' }, 'others are not affected');
});
