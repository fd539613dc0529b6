// The image operators run: built from deploy/Dockerfile (scripts/build-image.sh) and run as
// deploy/compose.yaml runs it: read-only root, no capabilities, no-new-privileges, as `node`,
// the master password from a secret file, compose's environment with only the hosts and ports
// pointed at this file's Dovecot + Postfix and IdP. Clients log in through the container's
// published ports over IMAP (143 STARTTLS, 993) and submission (587) with a token; /readyz,
// the image's HEALTHCHECK and a SIGTERM drain with a session in IDLE are checked too.
//
// Networking: slirp4netns with allow_host_loopback, so the container reaches the test services
// on the host's loopback as 10.0.2.2 (names `mailserver` and `idp.test` map there), and its
// ports are published on 127.0.0.1 only. Skips where no container engine can run.
import t from 'tap';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startBackendAndIdp } from '../harness/stack.js';
import { makeCerts } from '../harness/certs.js';
import { eventually } from '../harness/proxy.js';
import { RawClient, oauthbearer, xoauth2 } from '../harness/raw-imap.js';
import { RawSmtp, xoauth2Ir } from '../harness/raw-smtp.js';
import { buildImage, composeProxyService, isolationFlags, noEngine, podman, podmanCode, root } from '../harness/container.js';

const execFileP = promisify(execFile);

const HOST_LOOPBACK = '10.0.2.2'; // slirp4netns: the host's 127.0.0.1, with allow_host_loopback
const why = await noEngine();
if (why) {
  t.plan(0, `no container engine: ${why}`);
} else {
  await main();
}

async function main(): Promise<void> {
  // A cache hit when .ci/run has built it already (npm run image); otherwise a build.
  const image = await buildImage(170_000);
  const { backend, idp } = await startBackendAndIdp(t);
  const [alice, bob] = backend.users as [typeof backend.users[0], typeof backend.users[0]];

  // The files compose mounts: ./docker-data/certs at /etc/letsencrypt, the secret file at
  // /run/secrets/dms_master_password. Readable by the image's uid 1000.
  const dir = mkdtempSync(join(tmpdir(), 'omp-container-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const certs = await makeCerts(join(dir, 'made'), { prefix: 'proxy-' });
  const ca = readFileSync(certs.caFile, 'utf8');
  const live = join(dir, 'letsencrypt', 'live', 'mail.example.com');
  mkdirSync(live, { recursive: true });
  copyFileSync(certs.certFile, join(live, 'fullchain.pem'));
  copyFileSync(certs.keyFile, join(live, 'privkey.pem'));
  copyFileSync(backend.caFile, join(dir, 'letsencrypt', 'backend-ca.pem'));
  for (const f of [join(live, 'fullchain.pem'), join(live, 'privkey.pem'), join(dir, 'letsencrypt', 'backend-ca.pem')]) chmodSync(f, 0o644);
  for (const d of [join(dir, 'letsencrypt'), join(dir, 'letsencrypt', 'live'), live]) chmodSync(d, 0o755);
  const secret = join(dir, 'dms_master_password');
  writeFileSync(secret, `${backend.master.password}\n`, { mode: 0o644 });

  const service = composeProxyService();
  const idpPort = new URL(idp.userinfoUrl).port;
  const env: Record<string, string> = {
    ...service.environment,
    // Only what points at this machine's test services differs from compose.
    OAUTH2_INTROSPECTION_URL: `http://idp.test:${idpPort}${new URL(idp.userinfoUrl).pathname}`,
    DMS_IMAP_PORT: String(backend.imapPort),
    DMS_SUBMISSION_PORT: String(backend.submissionPort),
    DMS_TLS_SERVERNAME: 'localhost', // the name in the test backend's certificate
    DMS_TLS_CA_FILE: '/etc/letsencrypt/backend-ca.pem',
    DMS_MASTER_USER: backend.master.user,
  };
  const name = `omp-e2e-${randomBytes(4).toString('hex')}`;
  const ports = ['143', '993', '587', '465', '9090'];
  const isolation = isolationFlags(service);
  await podman([
    'run', '-d', '--name', name,
    ...isolation.flat(),
    '--network', 'slirp4netns:allow_host_loopback=true',
    '--add-host', `${env.DMS_HOST}:${HOST_LOOPBACK}`, '--add-host', `idp.test:${HOST_LOOPBACK}`,
    ...ports.flatMap((p) => ['-p', `127.0.0.1::${p}`]),
    '-v', `${join(dir, 'letsencrypt')}:/etc/letsencrypt:ro`,
    '-v', `${secret}:/run/secrets/dms_master_password:ro`,
    ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    image,
  ], 60_000);
  t.teardown(async () => { await podmanCode(['rm', '-f', '-t', '0', name]); });
  const logs = async () => (await podman(['logs', name]).catch((e: Error) => ({ stdout: e.message, stderr: '' }))).stdout.slice(-3000);
  const hostPort: Record<string, number> = {};
  for (const p of ports) hostPort[p] = Number((await podman(['port', name, `${p}/tcp`])).stdout.trim().split(':').pop());

  const readyz = async (): Promise<{ status: number; body: string }> => {
    try {
      const r = await fetch(`http://127.0.0.1:${hostPort['9090']}/readyz`, { signal: AbortSignal.timeout(2000) });
      return { status: r.status, body: await r.text() };
    } catch {
      return { status: 0, body: '' };
    }
  };

  t.test('the container runs as compose asks: read-only, no capabilities, no-new-privileges, uid 1000', async (t) => {
    const status = (await podman(['exec', name, 'cat', '/proc/1/status'])).stdout;
    t.match(status, /^Uid:\s+1000\s/m, 'pid 1 runs as the image\'s node user');
    t.match(status, /^CapEff:\s+0+$/m, 'no effective capabilities');
    t.match(status, /^CapBnd:\s+0+$/m, 'no capabilities in the bounding set');
    t.match(status, /^NoNewPrivs:\s+1$/m, 'no-new-privileges');
    t.not(await podmanCode(['exec', name, 'touch', '/app/written']), 0, 'the root file system is read-only');
  });

  t.test('/readyz: ready once DMS and the IdP answer through the container network', async (t) => {
    const r = await eventually(async () => { const r = await readyz(); return r.status === 200 ? r : null; }, 30_000, 'readyz 200')
      .catch(async (e: Error) => { throw new Error(`${e.message}; last: ${JSON.stringify(await readyz())}; logs: ${await logs()}`); });
    t.match(JSON.parse(r!.body), { ready: true });
  });

  t.test('IMAP 143: greeting, STARTTLS, AUTHENTICATE OAUTHBEARER with a token, SELECT', async (t) => {
    const imap = await RawClient.connect(hostPort['143']!);
    t.teardown(() => imap.close());
    t.match(await imap.line(), /^\* OK .*STARTTLS/, 'greeting offers STARTTLS');
    t.match(await imap.startTls(ca), /^S1 OK/);
    const r = await imap.command(`a1 AUTHENTICATE OAUTHBEARER ${oauthbearer(alice.email, await idp.mintToken(alice.email))}`, 15_000);
    t.match(r.tagged, /^a1 OK/, 'logged in through the container');
    t.match((await imap.command('a2 SELECT INBOX')).tagged, /^a2 OK/, 'Dovecot answers');
    t.match((await imap.command('a3 LOGOUT')).tagged, /^a3 OK/);
  });

  t.test('submission 587: STARTTLS, AUTH XOAUTH2 with a token, a message accepted', async (t) => {
    const smtp = await RawSmtp.connect(hostPort['587']!);
    t.teardown(() => smtp.close());
    t.match((await smtp.reply()).text, new RegExp(`^${env.SMTP_HOSTNAME} `), 'banner names SMTP_HOSTNAME');
    t.equal((await smtp.ehlo()).code, 250);
    t.equal((await smtp.startTls(ca)).code, 220);
    t.equal((await smtp.ehlo()).code, 250);
    t.equal((await smtp.command(`AUTH XOAUTH2 ${xoauth2Ir(bob.email, await idp.mintToken(bob.email))}`, 15_000)).code, 235, 'logged in');
    t.equal((await smtp.command(`MAIL FROM:<${bob.email}>`)).code, 250);
    t.equal((await smtp.command(`RCPT TO:<${alice.email}>`)).code, 250);
    t.equal((await smtp.command('DATA')).code, 354);
    t.equal((await smtp.command(`From: <${bob.email}>\r\nTo: <${alice.email}>\r\nSubject: via the container\r\n\r\nhello\r\n.`, 15_000)).code, 250, 'Postfix queued it');
    await smtp.quit();
  });

  t.test('the image\'s HEALTHCHECK passes (podman healthcheck run)', async (t) => {
    t.equal(await podmanCode(['healthcheck', 'run', name], 20_000), 0, 'healthy');
  });

  t.test('stop (SIGTERM): a session in IDLE gets * BYE, the container exits 0', async (t) => {
    const imap = await RawClient.connect(hostPort['993']!, { implicitTls: true, ca });
    t.teardown(() => imap.close());
    t.match(await imap.line(), /^\* OK /);
    t.match((await imap.command(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}`, 15_000)).tagged, /^a1 OK/);
    t.match((await imap.command('a2 SELECT INBOX')).tagged, /^a2 OK/);
    imap.write('a3 IDLE\r\n');
    t.match(await imap.line(), /^\+ /, 'in IDLE');
    // As `docker compose stop` does: the image's STOPSIGNAL, then SIGKILL after the grace
    // period (compose's stop_grace_period: 45s). A SIGKILL would show as exit code 137.
    const stopping = podman(['stop', '-t', '45', name], 60_000);
    t.match(await imap.lineAfterKeepalives(10_000), /^\* BYE /, 'IDLE got * BYE');
    await stopping;
    const code = (await podman(['inspect', '--format', '{{.State.ExitCode}}', name])).stdout.trim();
    t.equal(code, '0', code === '0' ? 'exit code 0' : `exit code 0 (logs: ${await logs()})`);
    t.match(await logs(), /"event":"shutdown"/);
  });

  t.test('podman-compose renders compose.yaml\'s proxy service with the flags and environment run here', async (t) => {
    // podman-compose 1.0 (Debian 12) has no `config`; --dry-run prints the podman commands
    // `up` would run (it still creates the project network: removed below).
    const project = `omp${randomBytes(3).toString('hex')}`;
    t.teardown(async () => { await podmanCode(['network', 'rm', '-f', `${project}_mail`]); });
    const { stdout } = await execFileP('podman-compose', ['-p', project, '--dry-run', '-f', `${root}deploy/compose.yaml`, 'up', '-d', 'oauth2-mail-proxy'],
      { env: { ...process.env, CONTAINERS_CONF: `${root}scripts/containers.conf` }, timeout: 60_000 });
    const line = stdout.split('\n').find((l) => l.startsWith(`podman run --name=${project}_oauth2-mail-proxy_1 `));
    if (!line) return t.fail(`no podman run line for the proxy in:\n${stdout}`);
    const args = line.split(' ');
    const hasSeq = (seq: string[]) => args.some((_, i) => seq.every((a, j) => args[i + j] === a));
    for (const flag of isolation) t.ok(hasSeq(flag), `rendered with ${flag.join(' ')}`);
    const rendered = Object.fromEntries(args.flatMap((a, i) => (args[i - 1] === '-e' ? [a.split(/=(.*)/s).slice(0, 2)] : [])));
    t.same(rendered, service.environment, 'the environment the test started from');
    t.ok(args.some((a) => a.endsWith(':/run/secrets/dms_master_password:ro,rprivate,rbind')), 'the master password as a secret file');
    t.ok(args.some((a) => a.endsWith(':/etc/letsencrypt/:ro')), 'the certificates read-only at /etc/letsencrypt');
    for (const p of ['143', '993', '587', '465']) t.ok(hasSeq(['-p', `${p}:${p}`]), `publishes ${p}`);
    t.ok(line.endsWith(` ${service.image}`), 'the image compose builds from deploy/Dockerfile');
  });
}
