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
import { readFileSync } from 'node:fs';
import { startBackend } from '../harness/backend.js';
import { debian13Unavailable } from '../harness/flavour.js';
import { startIdp } from '../harness/idp.js';
import { startProxy, type TestProxy } from '../harness/proxy.js';
import { RawClient, xoauth2 } from '../harness/raw-imap.js';
import { RawPop3 } from '../harness/raw-pop3.js';
import { RawSieve } from '../harness/raw-sieve.js';

const unavailable = debian13Unavailable();
if (unavailable) {
  t.plan(0, `Dovecot 2.4 backend: ${unavailable}`);
} else {
  await suite();
}

async function suite(): Promise<void> {
  const backend = await startBackend({ flavour: 'debian13', host: '127.0.0.2' });
  t.teardown(() => backend.stop());
  const idp = await startIdp();
  t.teardown(() => idp.stop());
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

  const logins = (p: TestProxy) => {
    const ca = readFileSync(p.certs.caFile, 'utf8');
    return {
      imap: async (user: string): Promise<string> => {
        const c = await RawClient.connect(p.imapsPort, { implicitTls: true, ca, localAddress: from() });
        t.teardown(() => c.close());
        await c.line();
        c.write(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(user, await idp.mintToken(user))}\r\n`);
        let reply = await c.line(20_000);
        if (reply.startsWith('+')) { c.write('\r\n'); reply = await c.line(20_000); }
        return reply;
      },
      pop3: async (user: string): Promise<string> => {
        const c = await RawPop3.connect(p.server.port('pop3s'), { implicitTls: true, ca, localAddress: from() });
        t.teardown(() => c.close());
        await c.line();
        let reply = await c.command(`AUTH XOAUTH2 ${xoauth2(user, await idp.mintToken(user))}`, 20_000);
        if (reply.startsWith('+ ')) reply = await c.command('', 20_000);
        return reply;
      },
      sieve: async (user: string): Promise<string> => {
        const c = await RawSieve.connect(p.managesievePort, { localAddress: from() });
        t.teardown(() => c.close());
        await c.response();
        await c.startTls(ca);
        c.socket.write(`AUTHENTICATE "XOAUTH2" "${xoauth2(user, await idp.mintToken(user))}"\r\n`);
        let reply = await c.line(20_000);
        if (reply.startsWith('"')) { c.socket.write('""\r\n'); reply = await c.line(20_000); }
        return reply;
      },
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
