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
import { readFileSync } from 'node:fs';
import { startBackend } from '../harness/backend.js';
import { debian13Unavailable } from '../harness/flavour.js';
import { startIdp } from '../harness/idp.js';
import { startProxy } from '../harness/proxy.js';
import { b64, RawClient, xoauth2 } from '../harness/raw-imap.js';
import { RawPop3 } from '../harness/raw-pop3.js';
import { RawSieve } from '../harness/raw-sieve.js';

const unavailable = debian13Unavailable();
if (unavailable) {
  t.plan(0, `Dovecot 2.4 backend: ${unavailable}`);
} else {
  await suite();
}

async function suite(): Promise<void> {
  // On 127.0.0.2: the proxy's connections come from 127.0.0.1, another address, as from its own
  // container (Dovecot counts a connection from its own address as secured whatever the version).
  const backend = await startBackend({ flavour: 'debian13', host: '127.0.0.2' });
  t.teardown(() => backend.stop());
  const idp = await startIdp();
  t.teardown(() => idp.stop());
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
  const ca = readFileSync(proxy.certs.caFile, 'utf8');
  const plain = b64(`\0${alice.email}\0${alice.password}`);

  const imap = async (line: string): Promise<string> => {
    const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
    t.teardown(() => c.close());
    await c.line();
    c.write(`${line}\r\n`);
    let reply = await c.line(15_000);
    if (reply.startsWith('+')) { c.write('\r\n'); reply = await c.line(15_000); } // a token's error challenge
    return reply;
  };
  const pop3 = async (line: string): Promise<string> => {
    const c = await RawPop3.connect(proxy.server.port('pop3s'), { implicitTls: true, ca });
    t.teardown(() => c.close());
    await c.line();
    let reply = await c.command(line, 15_000);
    if (reply.startsWith('+ ')) reply = await c.command('', 15_000);
    return reply;
  };
  const sieve = async (line: string): Promise<string> => {
    const c = await RawSieve.connect(proxy.managesievePort);
    t.teardown(() => c.close());
    await c.response();
    await c.startTls(ca);
    c.socket.write(`${line}\r\n`);
    let reply = await c.line(15_000);
    if (reply.startsWith('"')) { c.socket.write('""\r\n'); reply = await c.line(15_000); }
    return reply;
  };

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
