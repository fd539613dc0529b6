// The real client address, end to end: PROXY protocol v1/v2 in from a trusted balancer,
// and out to DMS as ID x-originating-ip or a PROXY v2 header; Dovecot's and Postfix's logs
// carry the client's address in each mode.
import t from 'tap';
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import { startBackend } from '../harness/backend.js';
import { startIdp } from '../harness/idp.js';
import { startProxy, eventually, type TestProxy } from '../harness/proxy.js';
import { RawClient, xoauth2 } from '../harness/raw-imap.js';
import { encodeProxyV2 } from '../../src/net/proxy-protocol.js';
import { dovecotLoginLine } from '../harness/flavour.js';

const backend = await startBackend();
t.teardown(() => backend.stop());
const idp = await startIdp();
t.teardown(() => idp.stop());
const [alice] = backend.users as [typeof backend.users[0]];

async function proxyWith(env: Record<string, string>, b: Parameters<typeof startProxy>[0]['backend'] = backend): Promise<TestProxy> {
  const p = await startProxy({ backend: b, userinfoUrl: idp.userinfoUrl, env });
  t.teardown(() => p.stop());
  return p;
}
const caOf = (p: TestProxy): string => readFileSync(p.certs.caFile, 'utf8');
const v1 = (src: string, port: number): Buffer => Buffer.from(`PROXY TCP4 ${src} 127.0.0.1 ${port} 993\r\n`);
const v2 = (src: string, port: number): Buffer => encodeProxyV2({ address: src, port }, { address: '127.0.0.1', port: 993 });

async function imapLogin(p: TestProxy, opts: Parameters<typeof RawClient.connect>[1]): Promise<RawClient> {
  const c = await RawClient.connect(p.imapsPort, { implicitTls: true, ca: caOf(p), ...opts });
  t.teardown(() => c.close());
  await c.line();
  const r = await c.command(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}`);
  t.match(r.tagged, /^a1 OK /);
  return c;
}

/**
 * Alice's latest login line naming `rip`. Dovecot's log process writes it on its own time
 * (2.4's noticeably later than 2.3's): wait for it, bounded; undefined if it never came.
 */
async function dovecotLoginFrom(rip: string): Promise<string | undefined> {
  const line = new RegExp(`${dovecotLoginLine(alice.email)}.*rip=${rip.replace(/\./g, '\\.')}[,\\s]`);
  const find = async () => (await backend.dovecotLog()).split('\n').filter((l) => line.test(l)).at(-1);
  return eventually(find, 5000, `Dovecot login line for ${rip}`).catch(() => undefined);
}

t.test('PROXY v1 and v2 from a trusted balancer: the announced address is the client everywhere', async (t) => {
  const p = await proxyWith({ PROXY_PROTOCOL_TRUSTED_NETWORKS: '127.0.0.0/8' });
  for (const [name, header, ip] of [['v1', v1('203.0.113.7', 40001), '203.0.113.7'], ['v2', v2('198.51.100.9', 40002), '198.51.100.9']] as const) {
    await imapLogin(p, { preamble: header });
    t.ok(await dovecotLoginFrom(ip), `${name}: Dovecot logs the announced client`);
    t.ok(p.logs().some((l) => l.event === 'login' && l.client === ip), `${name}: our login event carries it`);
  }
});

t.test('PROXY header on SMTP: Postfix (XCLIENT mode) sees the announced client', async (t) => {
  const xb = await startBackend({ xclient: true });
  t.teardown(() => xb.stop());
  const p = await proxyWith({ PROXY_PROTOCOL_TRUSTED_NETWORKS: '127.0.0.1/32', DMS_SUBMISSION_LOGIN: 'xclient' }, xb);
  const c = await RawClient.connect(p.submissionsPort, { implicitTls: true, ca: caOf(p), preamble: v2('192.0.2.55', 40003) });
  t.teardown(() => c.close());
  t.match(await c.line(), /^220 /);
  c.write('EHLO client.test\r\n');
  for (let l = await c.line(); !l.startsWith('250 '); l = await c.line());
  c.write(`AUTH XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}\r\n`);
  t.match(await c.line(), /^235 /);
  c.write(`MAIL FROM:<${alice.email}>\r\n`);
  t.match(await c.line(), /^250 /);
  c.write(`RCPT TO:<${alice.email}>\r\n`); // the queue file, and its client= log line, starts here
  t.match(await c.line(), /^250 /);
  await eventually(async () => /client=unknown\[192\.0\.2\.55\], sasl_method=XCLIENT, sasl_username=alice@example\.test/.test(await xb.postfixLog()), 5000, 'Postfix client= line');
  t.pass('Postfix logged 192.0.2.55 as the XCLIENT client');
});

t.test('not from a trusted network: no PROXY header is honoured', async (t) => {
  const p = await proxyWith({ PROXY_PROTOCOL_TRUSTED_NETWORKS: '10.0.0.0/8' });
  const c = await RawClient.connect(p.imapPort, { preamble: v1('203.0.113.66', 40004) });
  t.teardown(() => c.close());
  t.match(await c.line(), /^\* OK /, 'greeted as a direct client');
  t.match(await c.line(), /BAD/, 'the header is just a bad command');
  t.notOk(p.logs().some((l) => l.client === '203.0.113.66'));
});

t.test('from a trusted network without a valid header: closed, nothing served', async (t) => {
  const p = await proxyWith({ PROXY_PROTOCOL_TRUSTED_NETWORKS: '127.0.0.0/8', PROXY_PROTOCOL_TIMEOUT_SECONDS: '1' });
  const garbage = await RawClient.connect(p.imapPort, { preamble: Buffer.from('a1 CAPABILITY\r\n') });
  await garbage.closedPromise;
  t.equal(garbage.pending(), '', 'no greeting for a connection without the header');
  const silent = await RawClient.connect(p.imapPort);
  const started = Date.now();
  await silent.closedPromise;
  t.ok(Date.now() - started >= 900, 'closed at the header timeout');
  t.ok(p.logs().some((l) => l.event === 'proxy-header-invalid'));
});

t.test('PROXY v2 out to Dovecot (haproxy = yes): Dovecot logs the client', async (t) => {
  // Dovecot 2.4 refuses STARTTLS after the header's TLS flag: implicit TLS to DMS's 10993 there.
  const p = await proxyWith(backend.flavour === 'debian13'
    ? { DMS_IMAP_PROXY_PROTOCOL: '1', DMS_TLS: 'implicit', DMS_IMAP_PORT: String(backend.imapsHaproxyPort) }
    : { DMS_IMAP_PROXY_PROTOCOL: '1', DMS_IMAP_PORT: String(backend.imapHaproxyPort) });
  await imapLogin(p, { localAddress: '127.0.0.2' });
  t.ok(await dovecotLoginFrom('127.0.0.2'), 'client address from the PROXY header');
});

t.test("PROXY v2 out carries the client's TLS: Dovecot accepts a login from an untrusted address without TLS to it", async (t) => {
  // The client (announced by a balancer as 203.0.113.7, outside login_trusted_networks)
  // used TLS to the proxy; the proxy talks plaintext to Dovecot's haproxy port. Dovecot's
  // ssl = required then only lets the login through because of the PP2_TYPE_SSL TLV.
  const p = await proxyWith({
    PROXY_PROTOCOL_TRUSTED_NETWORKS: '127.0.0.0/8',
    DMS_IMAP_PROXY_PROTOCOL: '1', DMS_IMAP_PORT: String(backend.imapHaproxyPort), DMS_TLS: 'none',
  });
  await imapLogin(p, { preamble: v2('203.0.113.7', 40005) });
  const line = await dovecotLoginFrom('203.0.113.7');
  t.ok(line, 'Dovecot logs the announced client');
  // 2.3 logs the connection as "secured"; 2.4 logs the client's TLS the header announced as "TLS".
  if (backend.flavour === 'debian12') t.notMatch(line, /\bTLS\b/, 'no TLS between proxy and Dovecot');
  else t.match(line, /\bTLS\b/, 'Dovecot 2.4 takes the TLS flag of the PROXY v2 header');
});

t.test('PROXY v2 out to Postfix (smtpd_upstream_proxy_protocol): Postfix logs the client', async (t) => {
  const p = await proxyWith({ DMS_SUBMISSION_PROXY_PROTOCOL: '1', DMS_SUBMISSION_PORT: String(backend.submissionHaproxyPort) });
  const transport = nodemailer.createTransport({
    host: '127.0.0.1', port: p.submissionPort, secure: false, requireTLS: true, localAddress: '127.0.0.2',
    tls: { ca: caOf(p), servername: 'localhost' },
    auth: { type: 'OAuth2', user: alice.email, accessToken: await idp.mintToken(alice.email) },
  });
  const info = await transport.sendMail({ from: alice.email, to: alice.email, subject: 'proxy out', text: 'x' });
  t.ok(info.accepted.length === 1);
  await eventually(async () => /submission-haproxy.*connect from unknown\[127\.0\.0\.2\]/.test(await backend.postfixLog()), 5000, 'Postfix connect line');
  t.match(await backend.postfixLog(), /client=unknown\[127\.0\.0\.2\].*sasl_method=PLAIN, sasl_username=alice@example\.test/);
});
