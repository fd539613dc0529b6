// SIGTERM to the real CLI process while an IMAP session is in IDLE and an SMTP transaction
// is in DATA: IDLE gets `* BYE`, new connections are refused, the transaction completes
// (250) and the message is delivered, then the SMTP client gets 421 and the process exits 0.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ImapFlow } from 'imapflow';
import { startBackend } from '../harness/backend.js';
import { startIdp } from '../harness/idp.js';
import { makeCerts } from '../harness/certs.js';
import { freePorts } from '../harness/ports.js';
import { spawnCli } from '../harness/cli-process.js';
import { eventually } from '../harness/proxy.js';
import { RawClient, xoauth2 } from '../harness/raw-imap.js';
import { RawSmtp, xoauth2Ir } from '../harness/raw-smtp.js';

const backend = await startBackend();
t.teardown(() => backend.stop());
const idp = await startIdp();
t.teardown(() => idp.stop());
const dir = mkdtempSync(join(tmpdir(), 'omp-shutdown-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certs = await makeCerts(dir, { prefix: 'proxy-' });
const ca = readFileSync(certs.caFile, 'utf8');
const [alice, bob] = backend.users as [typeof backend.users[0], typeof backend.users[0]];

const [imaps, submissions, httpPort] = await freePorts(3) as [number, number, number];
const cli = spawnCli({
  LISTEN_IMAP: '', LISTEN_SUBMISSION: '',
  LISTEN_IMAPS: `127.0.0.1:${imaps}`, LISTEN_SUBMISSIONS: `127.0.0.1:${submissions}`,
  SSL_CERT_PATH: certs.certFile, SSL_KEY_PATH: certs.keyFile, SMTP_HOSTNAME: 'proxy.example.test',
  OAUTH2_INTROSPECTION_URL: idp.userinfoUrl,
  DMS_HOST: backend.host, DMS_IMAP_PORT: String(backend.imapPort), DMS_SUBMISSION_PORT: String(backend.submissionPort),
  DMS_TLS_CA_FILE: backend.caFile, DMS_TLS_SERVERNAME: 'localhost',
  DMS_MASTER_USER: backend.master.user, DMS_MASTER_PASSWORD: backend.master.password,
  SHUTDOWN_GRACE_SECONDS: '20', LOG_LEVEL: 'info',
}, httpPort);
t.teardown(() => cli.kill());
const { child, ready } = cli;

t.test('SIGTERM: IDLE gets BYE, DATA completes and is delivered, exit code 0', async (t) => {
  await eventually(async () => (await ready()) === 200, 30_000, `the CLI to be ready (output: ${cli.output().slice(-2000)})`);

  const imap = await RawClient.connect(imaps, { implicitTls: true, ca });
  t.teardown(() => imap.close());
  await imap.line();
  t.match((await imap.command(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}`)).tagged, /^a1 OK/);
  t.match((await imap.command('a2 SELECT INBOX')).tagged, /^a2 OK/);
  imap.write('a3 IDLE\r\n');
  t.match(await imap.line(), /^\+ /, 'in IDLE');

  const smtp = await RawSmtp.connect(submissions, { implicitTls: true, ca });
  t.teardown(() => smtp.close());
  t.equal((await smtp.reply()).code, 220);
  t.equal((await smtp.ehlo()).code, 250);
  t.equal((await smtp.command(`AUTH XOAUTH2 ${xoauth2Ir(bob.email, await idp.mintToken(bob.email))}`, 10_000)).code, 235);
  t.equal((await smtp.command(`MAIL FROM:<${bob.email}>`)).code, 250);
  t.equal((await smtp.command(`RCPT TO:<${bob.email}>`)).code, 250);
  t.equal((await smtp.command('DATA')).code, 354);
  const marker = `shutdown-${randomBytes(6).toString('hex')}`;
  await smtp.write(`From: <${bob.email}>\r\nTo: <${bob.email}>\r\nSubject: ${marker}\r\n\r\nfirst half\r\n`);

  child.kill('SIGTERM');
  await eventually(async () => (await ready()) !== 200, 5000, 'readiness to go false');
  t.pass('readiness went false');
  t.match(await imap.lineAfterKeepalives(5000), /^\* BYE /, 'IDLE got * BYE');
  await imap.closedPromise;
  t.pass('IMAP session closed');
  await t.rejects(RawClient.connect(imaps, { implicitTls: true, ca }), 'new connections are refused');

  await new Promise((r) => setTimeout(r, 1500)); // the SMTP session stays open inside DATA
  t.notOk(smtp.closed, 'SMTP session still open inside DATA');
  await smtp.write('second half\r\n.\r\n');
  const done = await smtp.reply(10_000);
  t.equal(done.code, 250, `end of data accepted: ${done.raw}`);
  const bye = await smtp.reply(5000);
  t.equal(bye.code, 421, 'then 421 between transactions');
  t.ok(await smtp.waitClosed(5000), 'and the connection is closed');

  const exit = await Promise.race([cli.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000))]);
  const output = cli.output();
  t.equal(exit === 'timeout' ? exit : exit.code, 0, `exit code 0 (output: ${output.slice(-1500)})`);
  t.match(output, /"event":"shutdown"/);
  // Nothing from the backend followed our last word: Dovecot's and Postfix's replies to the
  // proxy's own LOGOUT/QUIT were dropped, not written into the ended client sockets.
  const ends = output.split('\n').filter((l) => l.includes('"event":"session-end"') && l.includes('"user"'));
  t.equal(ends.length, 2, `two spliced sessions ended (${ends.join(' | ')})`);
  for (const l of ends) t.match(l, /"end":"shutdown"/, `ended by the shutdown: ${l}`);

  // Delivered: read from Dovecot directly (the proxy is gone) with bob's password.
  const client = new ImapFlow({
    host: backend.host, port: backend.imapPort, secure: false, doSTARTTLS: true,
    tls: { ca: readFileSync(backend.caFile, 'utf8'), servername: 'localhost' },
    auth: { user: bob.email, pass: bob.password }, logger: false, disableAutoIdle: true,
  });
  await client.connect();
  t.teardown(() => client.close());
  const found = await eventually(async () => {
    const lock = await client.getMailboxLock('INBOX');
    try {
      const r = await client.search({ header: { subject: marker } });
      return r && r.length ? r : null;
    } finally {
      lock.release();
    }
  }, 10_000, 'the message in bob\'s INBOX');
  t.equal(found?.length, 1, 'the message sent during shutdown was delivered');
  await client.logout();
});
