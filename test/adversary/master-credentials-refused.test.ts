// Adversary (operator's path): the master account the proxy logs in with is wrong or missing at
// DMS (a mistyped or rotated DMS_MASTER_PASSWORD, a dovecot-masters.cf not carried over to the
// Dovecot 2.4 image). Dovecot tells the two master-login refusals apart, in 2.3 and 2.4 alike:
// AUTHENTICATIONFAILED "Authentication failed." when the master credentials are refused,
// AUTHORIZATIONFAILED "Authorization failed" when they are right and the mailbox is no DMS account.
// The proxy took both as the client's failure: every token user (whose token the proxy had just
// accepted; no client secret reached Dovecot) heard "Authentication failed", an auth-failed line
// went to Fail2Ban for each login (banning the users' addresses) and AUTH_FAIL_* blocked them,
// while the operator got warn lines among client failures that hedge between the two causes.
// A refused master credential is the proxy's own misconfiguration: the client is told to try
// later, an error line names DMS_MASTER_USER/DMS_MASTER_PASSWORD, nothing is counted. A mailbox
// that is no DMS account stays the user's failed login.
import t from 'tap';
import { startDovecot24BackendAndIdp } from '../harness/stack.js';
import { startProxy, type TestProxy } from '../harness/proxy.js';
import { loginReplies } from '../harness/login-replies.js';
import { xoauth2 } from '../harness/raw-imap.js';

const stack = await startDovecot24BackendAndIdp(t);
if (stack) await suite(stack);

async function suite({ backend, idp }: NonNullable<typeof stack>): Promise<void> {
  idp.addAccount({ email: 'ghost@example.test' }); // an IdP user with no DMS account
  const alice = backend.users[0]!;
  const proxyWith = async (env: Record<string, string>): Promise<TestProxy> => {
    const p = await startProxy({
      backend, userinfoUrl: idp.userinfoUrl,
      env: { LISTEN_POP3S: '127.0.0.1:0', LISTEN_MANAGESIEVE: '127.0.0.1:0', AUTH_FAIL_MAX_PER_IP: '3', AUTH_FAIL_MAX_PER_USER: '3', ...env },
    });
    t.teardown(() => p.stop());
    return p;
  };
  // Each login from an address of its own: Dovecot's auth penalty (per client address, which the
  // proxy passes on) would otherwise hold the later ones for seconds.
  let next = 10;
  const from = (): string => `127.0.3.${next++}`;

  /** A token login for `user` on each protocol: the reply. */
  const logins = (p: TestProxy) => {
    const l = loginReplies(t, p, { timeoutMs: 20_000, from });
    const token = async (user: string) => xoauth2(user, await idp.mintToken(user));
    return {
      imap: async (user: string) => l.imap(`a1 AUTHENTICATE XOAUTH2 ${await token(user)}`),
      pop3: async (user: string) => l.pop3(`AUTH XOAUTH2 ${await token(user)}`),
      sieve: async (user: string) => l.sieve(`AUTHENTICATE "XOAUTH2" "${await token(user)}"`),
    };
  };

  t.test('a wrong master password: token users are told to try later, nothing is counted, the log names the setting', async (t) => {
    const p = await proxyWith({ DMS_MASTER_PASSWORD: 'not-the-master-password' });
    const l = logins(p);
    t.match(await l.imap(alice.email), /^a1 NO \[UNAVAILABLE\]/, 'IMAP');
    t.match(await l.pop3(alice.email), /^-ERR \[SYS\/TEMP\]/, 'POP3');
    t.match(await l.sieve(alice.email), /^NO \(TRYLATER\)/, 'ManageSieve');
    // More than AUTH_FAIL_MAX_PER_USER logins: still not blocked.
    t.match(await l.imap(alice.email), /^a1 NO \[UNAVAILABLE\]/, 'alice is not blocked');
    const logs = p.logs();
    t.same(logs.filter((x) => x.event === 'auth-failed').map((x) => x.reason), [], 'no auth-failed line for Fail2Ban');
    const errors = logs.filter((x) => x.event === 'backend-unavailable');
    for (const proto of ['imap', 'pop3', 'managesieve']) {
      t.ok(errors.some((x) => x.proto === proto && /DMS_MASTER_PASSWORD/.test(String(x.reason))), `a ${proto} error line names DMS_MASTER_PASSWORD`);
    }
  });

  t.test('the right master password and a mailbox that is no DMS account: still the user\'s failed login', async (t) => {
    const p = await proxyWith({});
    const l = logins(p);
    t.match(await l.imap('ghost@example.test'), /^a1 NO \[AUTHENTICATIONFAILED\]/, 'IMAP');
    t.match(await l.pop3('ghost@example.test'), /^-ERR \[AUTH\]/, 'POP3');
    t.match(await l.sieve('ghost@example.test'), /^NO "Authentication failed/, 'ManageSieve');
    t.equal(p.logs().filter((x) => x.event === 'auth-failed').length, 3, 'three auth-failed lines');
    t.match(await l.imap(alice.email), /^a1 OK /, 'alice, an account, logs in');
  });
}
