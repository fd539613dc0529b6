// SIGTERM → exit of the real CLI process stays within SHUTDOWN_GRACE_SECONDS, whatever the
// clients do: an IMAP client in IDLE and an SMTP client between transactions that both keep
// their sockets open after `* BYE` / 421, an IMAP client busy (NOOP every 200 ms) for the
// first 1.5 s of the grace, so its BYE comes late, clients that never logged in, and a login
// stuck at an IdP that does not answer.
// The IdP is the fake userinfo endpoint: a hang on demand is the fault injected here.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend } from '../harness/backend.js';
import { makeCerts } from '../harness/certs.js';
import { freePorts } from '../harness/ports.js';
import { spawnCli } from '../harness/cli-process.js';
import { eventually } from '../harness/proxy.js';
import { RawClient, xoauth2 } from '../harness/raw-imap.js';
import { RawSmtp, xoauth2Ir } from '../harness/raw-smtp.js';
import { startFakeIdp } from '../reliability/fakes/idp.js';

const GRACE_MS = 4000;
// SIGTERM is sent and the exit observed by this test process, on a 2-core machine shared
// with other test workers: signal delivery, the child's event loop and the 'exit' event.
const SCHEDULING_MARGIN_MS = 300;

const backend = await startBackend();
t.teardown(() => backend.stop());
const [alice] = backend.users as [typeof backend.users[0]];
const idp = await startFakeIdp({ kind: 'ok', email: alice.email });
t.teardown(() => idp.stop());
const dir = mkdtempSync(join(tmpdir(), 'omp-grace-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certs = await makeCerts(dir, { prefix: 'proxy-' });
const ca = readFileSync(certs.caFile, 'utf8');

const [imaps, submissions, httpPort] = await freePorts(3) as [number, number, number];
const cli = spawnCli({
  LISTEN_IMAP: '', LISTEN_SUBMISSION: '',
  LISTEN_IMAPS: `127.0.0.1:${imaps}`, LISTEN_SUBMISSIONS: `127.0.0.1:${submissions}`,
  SSL_CERT_PATH: certs.certFile, SSL_KEY_PATH: certs.keyFile, SMTP_HOSTNAME: 'proxy.example.test',
  OAUTH2_INTROSPECTION_URL: idp.url, OAUTH2_TIMEOUT_MS: '15000',
  DMS_HOST: backend.host, DMS_IMAP_PORT: String(backend.imapPort), DMS_SUBMISSION_PORT: String(backend.submissionPort),
  DMS_TLS_CA_FILE: backend.caFile, DMS_TLS_SERVERNAME: 'localhost',
  DMS_MASTER_USER: backend.master.user, DMS_MASTER_PASSWORD: backend.master.password,
  SHUTDOWN_GRACE_SECONDS: String(GRACE_MS / 1000), LOG_LEVEL: 'info',
}, httpPort);
t.teardown(() => cli.kill());

const stubborn = { implicitTls: true, ca, allowHalfOpen: true } as const;

t.test(`SIGTERM with clients that never close: exit 0 within the ${GRACE_MS / 1000} s grace`, async (t) => {
  await eventually(async () => (await cli.ready()) === 200, 60_000, `the CLI to be ready (output: ${cli.output().slice(-2000)})`);
  const token = 'opaque-token-of-alice';

  const idle = await RawClient.connect(imaps, stubborn);
  t.teardown(() => idle.close());
  await idle.line();
  t.match((await idle.command(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, token)}`, 10_000)).tagged, /^a1 OK/);
  t.match((await idle.command('a2 SELECT INBOX')).tagged, /^a2 OK/);
  idle.write('a3 IDLE\r\n');
  t.match(await idle.line(), /^\+ /, 'in IDLE');

  const busy = await RawClient.connect(imaps, stubborn);
  t.teardown(() => busy.close());
  await busy.line();
  t.match((await busy.command(`b1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, token)}`, 10_000)).tagged, /^b1 OK/);

  const smtp = await RawSmtp.connect(submissions, stubborn);
  t.teardown(() => smtp.close());
  t.equal((await smtp.reply()).code, 220);
  t.equal((await smtp.ehlo()).code, 250);
  t.equal((await smtp.command(`AUTH XOAUTH2 ${xoauth2Ir(alice.email, token)}`, 10_000)).code, 235);

  const preauthImap = await RawClient.connect(imaps, stubborn);
  t.teardown(() => preauthImap.close());
  await preauthImap.line();
  const preauthSmtp = await RawSmtp.connect(submissions, stubborn);
  t.teardown(() => preauthSmtp.close());
  t.equal((await preauthSmtp.reply()).code, 220);

  // A login the IdP never answers (the proxy's IdP timeout is 15 s, far past the grace).
  idp.behaviour = { kind: 'hang' };
  const stuck = await RawClient.connect(imaps, stubborn);
  t.teardown(() => stuck.close());
  await stuck.line();
  const seen = idp.requests;
  stuck.write(`c1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, 'another-token')}\r\n`);
  await eventually(() => idp.requests > seen, 5000, 'the stuck login to reach the IdP');

  let noops = 0;
  const chatter = setInterval(() => { if (!busy.closed) busy.write(`n${++noops} NOOP\r\n`); }, 200);
  t.teardown(() => clearInterval(chatter));

  const sentAt = Date.now();
  cli.child.kill('SIGTERM');
  setTimeout(() => clearInterval(chatter), 1500);
  const exit = await Promise.race([cli.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
  t.not(exit, 'timeout', 'the process exited');
  if (exit === 'timeout') return;
  const tookMs = exit.atMs - sentAt;
  t.equal(exit.code, 0, `exit code 0 (output: ${cli.output().slice(-1500)})`);
  t.ok(tookMs <= GRACE_MS + SCHEDULING_MARGIN_MS, `SIGTERM → exit took ${tookMs} ms (grace ${GRACE_MS} ms + ${SCHEDULING_MARGIN_MS} ms margin)`);
  t.comment(`SIGTERM → exit: ${tookMs} ms`);

  t.match(await idle.lineAfterKeepalives(1000), /^\* BYE /, 'IDLE got * BYE');
  t.match(busy.pending(), /\* BYE /, 'the busy session got * BYE once it fell quiet');
  const last = await smtp.reply(1000);
  t.equal(last.code, 421, `the SMTP session got 421: ${last.raw}`);
  t.match(preauthImap.pending(), /^\* BYE /, 'the IMAP client before login got * BYE');
  t.match(preauthSmtp.pending(), /^421 /, 'the SMTP client before login got 421');
});
