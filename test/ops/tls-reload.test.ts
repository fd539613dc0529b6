// Certificate rotation without a restart: replace the files, a new connection sees the
// new certificate while an established session carries on; a corrupt file keeps the
// current one in use. Plus SNI selection from the certificates: list.
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { startBackend } from '../harness/backend.js';
import { startIdp } from '../harness/idp.js';
import { makeCerts } from '../harness/certs.js';
import { eventually, startProxy } from '../harness/proxy.js';
import { RawClient, xoauth2 } from '../harness/raw-imap.js';
import { CertificateStore, nameMatches } from '../../src/net/tls-reload.js';
import { createLogger } from '../../src/observability/logger.js';
import { parseSniCertificates } from '../../src/config/certificates.js';

const dir = mkdtempSync(join(tmpdir(), 'omp-tls-reload-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const a = await makeCerts(dir, { prefix: 'a-' });
const b = await makeCerts(dir, { prefix: 'b-', names: ['mail.example.org'] });
const live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key') };
copyFileSync(a.certFile, live.cert);
copyFileSync(a.keyFile, live.key);
const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;

/** Replaces a file the way certbot/Traefik do: write aside, then rename over it. */
function replace(target: string, content: Buffer | string): void {
  writeFileSync(`${target}.tmp`, content);
  renameSync(`${target}.tmp`, target);
}

/** The certificate a new TLS connection to `port` is served (verification off: we only look). */
async function servedFingerprint(port: number, servername = 'localhost'): Promise<string> {
  const s = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => { s.once('secureConnect', () => resolve()); s.once('error', reject); });
  const fp = s.getPeerX509Certificate()!.fingerprint256;
  s.destroy();
  return fp;
}

t.test('rotation through a running proxy', async (t) => {
  const backend = await startBackend();
  t.teardown(() => backend.stop());
  const idp = await startIdp();
  t.teardown(() => idp.stop());
  const proxy = await startProxy({
    backend, userinfoUrl: idp.userinfoUrl,
    env: { SSL_CERT_PATH: live.cert, SSL_KEY_PATH: live.key, TLS_RELOAD_INTERVAL_SECONDS: '1' },
  });
  t.teardown(() => proxy.stop());
  const fpA = fingerprint(a.caPem.length ? readFileSync(a.certFile, 'utf8') : '');
  const fpB = fingerprint(readFileSync(b.certFile, 'utf8'));
  t.equal(await servedFingerprint(proxy.imapsPort), fpA, 'serves A at start');

  const session = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca: a.caPem });
  t.teardown(() => session.close());
  await session.line();
  const [alice] = backend.users as [typeof backend.users[0]];
  t.match((await session.command(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}`)).tagged, /^a1 OK/);

  replace(live.key, readFileSync(b.keyFile));
  replace(live.cert, readFileSync(b.certFile));
  await eventually(async () => (await servedFingerprint(proxy.imapsPort)) === fpB, 5000, 'the new certificate on new connections');
  t.pass('IMAPS: new connection sees B');
  t.equal(await servedFingerprint(proxy.submissionsPort), fpB, 'submissions (465) too');
  const starttls = await RawClient.connect(proxy.imapPort);
  t.teardown(() => starttls.close());
  await starttls.line();
  t.match(await starttls.startTls(b.caPem), /OK/, 'STARTTLS verifies against B\'s CA');
  t.match((await session.command('a2 NOOP')).tagged, /^a2 OK/, 'the established session is unaffected');

  replace(live.cert, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
  await eventually(() => proxy.logs().some((l) => l.event === 'tls-reload-failed'), 5000, 'the reload error to be logged');
  t.equal(await servedFingerprint(proxy.imapsPort), fpB, 'a corrupt file keeps B in use');
  const err = proxy.logs().find((l) => l.event === 'tls-reload-failed')!;
  t.equal(err.level, 50, 'logged as an error');

  replace(live.cert, readFileSync(a.certFile));
  replace(live.key, readFileSync(a.keyFile));
  await eventually(async () => (await servedFingerprint(proxy.imapsPort)) === fpA, 5000, 'recovery once the files are good again');
  t.pass('a good file after a broken one is picked up');
  session.close();
  starttls.close();
});

t.test('SNI picks the certificate by name; unknown names get the default', async (t) => {
  const problems: string[] = [];
  const sni = parseSniCertificates([{ names: ['mail.example.org', '*.example.org'], cert: b.certFile, key: b.keyFile }], problems);
  t.same(problems, []);
  const store = new CertificateStore({ certPath: a.certFile, keyPath: a.keyFile }, sni, createLogger('silent'));
  const pick = (name: string) => new Promise<tls.SecureContext | undefined>((r) => store.SNICallback(name, (_e, ctx) => r(ctx)));
  t.equal(await pick('mail.example.org'), store.list().length === 2 ? await pick('MAIL.example.org') : null, 'case-insensitive');
  t.not(await pick('mail.example.org'), store.context, 'SNI name: its own certificate');
  t.not(await pick('imap.example.org'), store.context, 'wildcard');
  t.equal(await pick('other.test'), store.context, 'unknown: default');
  t.ok(nameMatches('*.example.org', 'a.example.org'));
  t.notOk(nameMatches('*.example.org', 'a.b.example.org'), 'a wildcard covers one label');
  t.notOk(nameMatches('*.example.org', 'example.org'));
});

t.test('certificates: list validation names every problem', async (t) => {
  const problems: string[] = [];
  parseSniCertificates([{ names: [], cert: '/nope', key: b.keyFile, extra: 1 }, 'x'], problems);
  t.match(problems.join('\n'), /certificates\[0\]: unknown field extra/);
  t.match(problems.join('\n'), /certificates\[0\]\.names/);
  t.match(problems.join('\n'), /certificates\[0\]\.cert: file not found/);
  t.match(problems.join('\n'), /certificates\[1\]: expected a mapping/);
});
