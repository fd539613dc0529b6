// Adversary (operator's path): DMS moved to Dovecot 2.4 while the proxy still reaches it in the
// clear (DMS_TLS=none, DMS_POP3_TLS=none or DMS_MANAGESIEVE_TLS=none, no PROXY header). That
// worked on 2.3, which counts login_trusted_networks as secured; 2.4 does not, and with DMS's
// ssl = required it refuses every authentication on the proxy's leg: IMAP `NO [PRIVACYREQUIRED]`,
// POP3 `-ERR [AUTH] Authentication disallowed on non-secure (SSL/TLS) connections.`, ManageSieve
// `NO (ENCRYPT-NEEDED)`. No credential was looked at. The proxy took each as Dovecot's verdict on
// the credentials: the client heard "Authentication failed" for a valid token and for a correct
// password, an auth-failed line went to Fail2Ban (which bans the user's address) and the failure
// counted against the client's address and user (AUTH_FAIL_*: blocked after a few), while the log
// blamed "no such DMS account, or wrong master credentials". It is the backend leg's setting:
// a temporary failure to the client, an error line that names the setting, nothing counted.
import t from 'tap';
import { startDovecot24BackendAndIdp } from '../harness/stack.js';
import { startProxy } from '../harness/proxy.js';
import { loginReplies } from '../harness/login-replies.js';
import { b64, xoauth2 } from '../harness/raw-imap.js';

const stack = await startDovecot24BackendAndIdp(t);
if (stack) await suite(stack);

async function suite({ backend, idp }: NonNullable<typeof stack>): Promise<void> {
  const alice = backend.users[0]!;
  const proxy = await startProxy({
    backend, userinfoUrl: idp.userinfoUrl,
    env: {
      DMS_TLS: 'none', DMS_POP3_TLS: 'none', DMS_MANAGESIEVE_TLS: 'none',
      LISTEN_POP3S: '127.0.0.1:0', LISTEN_MANAGESIEVE: '127.0.0.1:0',
      // A handful of refusals would block the client if they were counted.
      AUTH_FAIL_MAX_PER_IP: '4', AUTH_FAIL_MAX_PER_USER: '4',
    },
  });
  t.teardown(() => proxy.stop());
  const plain = b64(`\0${alice.email}\0${alice.password}`);
  const { imap, pop3, sieve } = loginReplies(t, proxy, { timeoutMs: 15_000 });

  const cases: Array<[string, () => Promise<string>, RegExp]> = [
    ['IMAP token', async () => imap(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}`), /^a1 NO \[UNAVAILABLE\]/],
    ['IMAP password', () => imap(`a1 LOGIN "${alice.email}" "${alice.password}"`), /^a1 NO \[UNAVAILABLE\]/],
    ['POP3 token', async () => pop3(`AUTH XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}`), /^-ERR \[SYS\/TEMP\]/],
    ['POP3 password', () => pop3(`AUTH PLAIN ${plain}`), /^-ERR \[SYS\/TEMP\]/],
    ['ManageSieve token', async () => sieve(`AUTHENTICATE "XOAUTH2" "${xoauth2(alice.email, await idp.mintToken(alice.email))}"`), /^NO \(TRYLATER\)/],
    ['ManageSieve password', () => sieve(`AUTHENTICATE "PLAIN" "${plain}"`), /^NO \(TRYLATER\)/],
  ];
  for (const [name, login, temporary] of cases) {
    t.test(`${name} over a cleartext backend leg Dovecot 2.4 refuses: a temporary failure, not a wrong credential`, async (t) => {
      t.match(await login(), temporary, 'the client is told to try later, not that its credential is wrong');
    });
  }

  t.test('nothing is counted against the client; the log names the backend TLS setting', async (t) => {
    const logs = proxy.logs();
    t.same(logs.filter((l) => l.event === 'auth-failed').map((l) => l.reason), [], 'no auth-failed line for Fail2Ban');
    const unavailableLines = logs.filter((l) => l.event === 'backend-unavailable');
    for (const [proto, key] of [['imap', 'DMS_TLS'], ['pop3', 'DMS_POP3_TLS'], ['managesieve', 'DMS_MANAGESIEVE_TLS']] as const) {
      t.ok(unavailableLines.some((l) => l.proto === proto && String(l.reason).includes(key)), `a ${proto} backend-unavailable line names ${key}`);
    }
    // Past AUTH_FAIL_MAX_PER_IP refusals had the client blocked: it still reaches Dovecot.
    t.match(await imap(`a1 LOGIN "${alice.email}" "${alice.password}"`), /^a1 NO \[UNAVAILABLE\]/, 'not blocked');
  });
}
