// DMS on Debian 13 (Dovecot 2.4, Postfix 3.10), the subset CI always runs (issue 18): token
// and password logins on IMAP and submission with delivery, the client's address, a refusal,
// and the DMS_TLS difference 2.4 brings. The whole e2e suite runs against this backend with
// DMS_FLAVOUR=debian13 (docs: docs/operations.md "DMS releases").
//
// The backend listens on 127.0.0.2 while the proxy dials from 127.0.0.1, as a proxy in its own
// container would: Dovecot counts a connection from its own address as secured whatever the
// version, which would hide what 2.4 changed for login_trusted_networks.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { startBackend, type Backend } from '../harness/backend.js';
import { debian13Unavailable, debian13Versions, dovecotLoginLine } from '../harness/flavour.js';
import { startIdp, type Idp } from '../harness/idp.js';
import { eventually, startProxy, type TestProxy } from '../harness/proxy.js';
import { RawClient, xoauth2 } from '../harness/raw-imap.js';
import { runDoctor } from '../../src/doctor/run.js';

const unavailable = debian13Unavailable();
if (unavailable) {
  t.plan(0, `Dovecot 2.4 backend: ${unavailable}`);
} else {
  await suite();
}

async function suite(): Promise<void> {
  const v = debian13Versions();
  t.comment(`Dovecot ${v.dovecot}, Postfix ${v.postfix}`);
  const backend: Backend = await startBackend({ flavour: 'debian13', host: '127.0.0.2' });
  t.teardown(() => backend.stop());
  const idp: Idp = await startIdp();
  t.teardown(() => idp.stop());
  const [alice, bob] = backend.users as [Backend['users'][0], Backend['users'][0]];
  const backendCa = readFileSync(backend.caFile, 'utf8');

  const proxyWith = async (env: Record<string, string> = {}): Promise<TestProxy> => {
    const p = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env });
    t.teardown(() => p.stop());
    return p;
  };
  const proxy = await proxyWith();
  const caOf = (p: TestProxy): string => readFileSync(p.certs.caFile, 'utf8');

  const imapsClient = async (p: TestProxy, localAddress?: string): Promise<RawClient> => {
    const c = await RawClient.connect(p.imapsPort, { implicitTls: true, ca: caOf(p), ...(localAddress ? { localAddress } : {}) });
    t.teardown(() => c.close());
    t.match(await c.line(), /^\* OK /);
    return c;
  };
  const tokenLogin = async (p: TestProxy, email: string, localAddress?: string) => {
    const c = await imapsClient(p, localAddress);
    return (await c.command(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(email, await idp.mintToken(email))}`, 10_000)).tagged;
  };

  /** Polls `user`'s INBOX on the backend (IMAPS, their own password) for `subject`, bounded. */
  const delivered = async (user: Backend['users'][0], subject: string): Promise<boolean> => {
    const client = new ImapFlow({
      host: backend.host, port: backend.imapsPort, secure: true, logger: false,
      auth: { user: user.email, pass: user.password }, tls: { ca: backendCa, servername: 'localhost' },
    });
    await client.connect();
    try {
      await client.mailboxOpen('INBOX');
      return await eventually(async () => ((await client.search({ subject }, { uid: true })) || []).length > 0 || undefined, 5000, `"${subject}" delivered`)
        .then(() => true, () => false);
    } finally {
      await client.logout().catch(() => client.close());
    }
  };

  const send = (p: TestProxy, from: Backend['users'][0], auth: { type: 'OAuth2'; user: string; accessToken: string } | { user: string; pass: string }, subject: string) =>
    nodemailer.createTransport({
      host: '127.0.0.1', port: p.submissionPort, secure: false, requireTLS: true,
      tls: { ca: caOf(p), servername: 'localhost' }, auth, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 10_000,
    }).sendMail({ from: from.email, to: bob.email, subject, text: 'through Postfix 3.10 and LMTP to Dovecot 2.4\n' });

  t.test('IMAP token login: the tagged OK carries 2.4\'s post-login capabilities', async (t) => {
    const tagged = await tokenLogin(proxy, alice.email);
    t.match(tagged, /^a1 OK \[CAPABILITY [^\]]*\bINPROGRESS\b[^\]]*\]/, 'INPROGRESS: only Dovecot 2.4 has it');
  });

  t.test('IMAP password login (pass-through)', async (t) => {
    const c = await imapsClient(proxy);
    t.match((await c.command(`b1 LOGIN "${alice.email}" "${alice.password}"`, 10_000)).tagged, /^b1 OK /);
    t.match((await c.command('b2 SELECT INBOX')).tagged, /^b2 OK /);
  });

  t.test('a bad token is refused as a bad credential', async (t) => {
    const c = await imapsClient(proxy);
    c.write(`c1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, 'not-a-token')}\r\n`);
    t.match(await c.line(), /^\+ /);
    c.write('\r\n');
    t.match((await c.until('c1')).tagged, /^c1 NO \[AUTHENTICATIONFAILED\]/);
  });

  t.test('the client\'s address reaches Dovecot 2.4 (ID x-originating-ip from login_trusted_networks)', async (t) => {
    t.match(await tokenLogin(proxy, bob.email, '127.0.0.3'), /^a1 OK /);
    const line = new RegExp(`${dovecotLoginLine(bob.email)}.*rip=127\\.0\\.0\\.3[,\\s]`);
    t.ok(await eventually(async () => (await backend.dovecotLog()).split('\n').find((l) => line.test(l)), 5000, 'login line').catch(() => undefined),
      'Dovecot logs the client, not the proxy');
  });

  t.test('submission to Postfix 3.10: token and password senders, delivered by LMTP', async (t) => {
    const tag = Date.now().toString(36);
    const byToken = await send(proxy, alice, { type: 'OAuth2', user: alice.email, accessToken: await idp.mintToken(alice.email) }, `token ${tag}`);
    t.same(byToken.accepted, [bob.email]);
    const byPassword = await send(proxy, alice, { user: alice.email, pass: alice.password }, `password ${tag}`);
    t.same(byPassword.accepted, [bob.email]);
    t.ok(await delivered(bob, `token ${tag}`), 'the token sender\'s mail is in the INBOX');
    t.ok(await delivered(bob, `password ${tag}`), 'the password sender\'s mail is in the INBOX');
  });

  t.test('DMS_TLS: 2.4 wants TLS on the backend leg even from login_trusted_networks', async (t) => {
    const plain = await proxyWith({ DMS_TLS: 'none' });
    t.notMatch(await tokenLogin(plain, alice.email), /^a1 OK /, 'DMS_TLS=none: Dovecot 2.4 refuses the master login');
    const viaHeader = await proxyWith({ DMS_TLS: 'none', DMS_IMAP_PROXY_PROTOCOL: '1', DMS_IMAP_PORT: String(backend.imapHaproxyPort) });
    t.match(await tokenLogin(viaHeader, alice.email), /^a1 OK /, 'DMS_TLS=none with PROXY v2: the SSL TLV tells Dovecot the client used TLS');
    t.match(await tokenLogin(proxy, alice.email), /^a1 OK /, 'DMS_TLS=starttls works');
    const startTlsAfterHeader = await proxyWith({ DMS_IMAP_PROXY_PROTOCOL: '1', DMS_IMAP_PORT: String(backend.imapHaproxyPort) });
    t.match(await tokenLogin(startTlsAfterHeader, alice.email), /^a1 NO \[UNAVAILABLE\]/, 'PROXY v2 + STARTTLS: 2.4 offers no STARTTLS after the TLS flag, the proxy fails closed');
    const implicitAfterHeader = await proxyWith({ DMS_TLS: 'implicit', DMS_IMAP_PROXY_PROTOCOL: '1', DMS_IMAP_PORT: String(backend.imapsHaproxyPort) });
    t.match(await tokenLogin(implicitAfterHeader, alice.email), /^a1 OK /, 'PROXY v2 + implicit TLS (DMS 10993) works');
  });

  t.test('doctor names Dovecot 2.4 and, with DMS_TLS=none, the setting that bites', async (t) => {
    const env = {
      PATH: process.env.PATH ?? '', SSL_CERT_PATH: proxy.certs.certFile, SSL_KEY_PATH: proxy.certs.keyFile, SMTP_HOSTNAME: 'proxy.example.test',
      OAUTH2_INTROSPECTION_URL: idp.userinfoUrl, DMS_HOST: backend.host, DMS_IMAP_PORT: String(backend.imapPort),
      DMS_SUBMISSION_PORT: String(backend.submissionPort), DMS_TLS_CA_FILE: backend.caFile, DMS_TLS_SERVERNAME: 'localhost',
      DMS_MASTER_USER: backend.master.user, DMS_MASTER_PASSWORD: backend.master.password,
    };
    const doctor = async (extra: Record<string, string>) => {
      const lines: string[] = [];
      const code = await runDoctor({ env: { ...env, ...extra }, file: {}, user: alice.email }, (l) => lines.push(l));
      return { code, out: lines.join('\n') };
    };
    const good = await doctor({});
    t.equal(good.code, 0, good.out);
    t.match(good.out, /^\[ OK \] DMS Dovecot version: Dovecot 2\.4/m);
    const bad = await doctor({ DMS_TLS: 'none' });
    t.equal(bad.code, 1);
    t.match(bad.out, /^\[FAIL\] DMS Dovecot version: .*login_trusted_networks as secured.*\n\s+fix: set DMS_TLS=starttls/m);
    const header = await doctor({ DMS_IMAP_PROXY_PROTOCOL: '1', DMS_IMAP_PORT: String(backend.imapHaproxyPort) });
    t.equal(header.code, 1);
    t.match(header.out, /^\[FAIL\] DMS Dovecot version: .*refuses STARTTLS\n\s+fix: set DMS_TLS=implicit/m);
    t.notMatch(bad.out, backend.master.password, 'the master password is never printed');
  });
}
