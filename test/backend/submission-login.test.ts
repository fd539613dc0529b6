// How an SMTP token login checks the DMS account before Postfix (src/backend/submission-login.ts):
// the account check's throw (a bug, not an answer; the check is a stub that throws, injected)
// is the answer of an unreachable Dovecot, a failure result the session words as 454, not a
// rejection (the session's internal error: 421 and the connection ended). Postfix is not asked.
import t from 'tap';
import type { AccountCheck } from '../../src/backend/account-check.js';
import type { BackendClient } from '../../src/backend/login-result.js';
import { submissionLogin } from '../../src/backend/submission-login.js';

const client: BackendClient = { address: '192.0.2.7', port: 50000, localAddress: '127.0.0.1', localPort: 587, tls: true };

t.test('the account check throws: unavailable, with the fault as the reason; Postfix is not asked', async (t) => {
  for (const thrown of ['at once', 'as a rejection']) {
    const accounts = {
      exists: thrown === 'at once'
        ? () => { throw new TypeError('injected: the master login threw'); }
        : () => Promise.reject(new TypeError('injected: the master login threw')),
      forget: () => undefined,
    } as unknown as AccountCheck;
    let postfixAsked = 0;
    const login = submissionLogin(
      { login: 'xclient', proxyProtocol: false },
      async () => { postfixAsked += 1; return { ok: false, kind: 'rejected', reason: 'not reached' }; },
      () => Promise.reject(new Error('not used for a token user')),
      accounts,
    );
    const r = await login({ kind: 'vouched', user: 'alice@example.test' }, client);
    t.match(r, { ok: false, kind: 'unavailable', reason: /^the DMS account check failed: injected: the master login threw$/ }, thrown);
    t.equal(postfixAsked, 0, `${thrown}: Postfix not asked`);
  }
});

t.test('the answers the check gives are unchanged: missing is a refusal, unknown is unavailable', async (t) => {
  for (const [answer, kind] of [['missing', 'rejected'], ['unknown', 'unavailable']] as const) {
    const accounts = { exists: async () => answer, forget: () => undefined } as unknown as AccountCheck;
    const login = submissionLogin({ login: 'xclient', proxyProtocol: false }, async () => ({ ok: false, kind: 'rejected', reason: 'not reached' }), () => Promise.reject(new Error('unused')), accounts);
    t.match(await login({ kind: 'vouched', user: 'alice@example.test' }, client), { ok: false, kind }, answer);
  }
});
