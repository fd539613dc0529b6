// A listener whose port is taken (another process, a second proxy, a typo that puts two
// listeners on one port): the start fails with the port named and everything already started
// is closed again, so the process exits instead of lingering with half its listeners open.
// Before, a taken LISTEN_HTTP, LISTEN_SCIM or LISTEN_PORTAL left the mail listeners open: the
// CLI printed the error and kept running without its metrics and health endpoint.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer } from '../../src/server.js';
import { makeCerts } from '../harness/certs.js';
import { spawnCli } from '../harness/cli-process.js';
import { freePorts } from '../harness/ports.js';

const dir = mkdtempSync(join(tmpdir(), 'omp-port-taken-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certs = await makeCerts(dir, { prefix: 'proxy-' });

const LISTENERS = ['LISTEN_IMAP', 'LISTEN_IMAPS', 'LISTEN_SUBMISSION', 'LISTEN_SUBMISSIONS', 'LISTEN_POP3', 'LISTEN_POP3S',
  'LISTEN_MANAGESIEVE', 'LISTEN_HTTP', 'LISTEN_SCIM', 'LISTEN_PORTAL'] as const;

function env(ports: Record<string, number>): Record<string, string> {
  const listen = Object.fromEntries(Object.entries(ports).map(([k, p]) => [k, `127.0.0.1:${p}`]));
  return {
    ...listen,
    SSL_CERT_PATH: certs.certFile, SSL_KEY_PATH: certs.keyFile, SMTP_HOSTNAME: 'proxy.example.test',
    // Nothing answers on port 1: nothing here logs in, the start must not need the backend or IdP.
    OAUTH2_INTROSPECTION_URL: 'http://127.0.0.1:1/userinfo', OAUTH2_ISSUER: 'http://127.0.0.1:1',
    DMS_HOST: '127.0.0.1', DMS_IMAP_PORT: '1', DMS_SUBMISSION_PORT: '1', DMS_POP3_PORT: '1', DMS_MANAGESIEVE_PORT: '1',
    DMS_MASTER_USER: 'master', DMS_MASTER_PASSWORD: 'master-password',
    SCIM_TOKEN: 'scim-token-0123456789abcdef', DMS_CONFIG_DIR: dir,
    PORTAL_URL: 'https://mail.example.test:8443', PORTAL_CLIENT_ID: 'mail-portal', APP_PASSWORDS_FILE: join(dir, 'app-passwords.json'),
    LOG_LEVEL: 'silent',
  };
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

const quiet = new Writable({ write(_c, _e, cb) { cb(); } });

for (const taken of LISTENERS) {
  t.test(`${taken} on a taken port: the start fails naming it, every other listener is closed again`, async (t) => {
    const free = await freePorts(LISTENERS.length);
    const ports: Record<string, number> = Object.fromEntries(LISTENERS.map((k, i) => [k, free[i]!]));
    const holder = await listen(ports[taken]!);
    t.teardown(() => new Promise<void>((r) => holder.close(() => r())));
    const config = loadConfig(env(ports));
    await t.rejects(startServer(config, createLogger('silent', quiet)), { code: 'EADDRINUSE', message: new RegExp(`:${ports[taken]}\\b`) });
    // Each other port can be bound at once: nothing of the failed start holds it.
    for (const k of LISTENERS) {
      if (k === taken) continue;
      const s = await listen(ports[k]!).catch((err: NodeJS.ErrnoException) => err);
      t.notOk(s instanceof Error, `${k} (${ports[k]}) was released`);
      if (!(s instanceof Error)) await new Promise<void>((r) => s.close(() => r()));
    }
  });
}

t.test('the real CLI with LISTEN_HTTP on a taken port exits 1 and says which address', async (t) => {
  const [imap, submission, http] = await freePorts(3) as [number, number, number];
  const holder = await listen(http);
  t.teardown(() => new Promise<void>((r) => holder.close(() => r())));
  // spawnCli sets LISTEN_HTTP to the port given.
  const cli = spawnCli({ ...env({ LISTEN_IMAP: imap, LISTEN_SUBMISSION: submission }), LISTEN_IMAPS: '', LISTEN_SUBMISSIONS: '', LOG_LEVEL: 'info' }, http);
  t.teardown(() => cli.kill());
  // The TypeScript loader compiles the proxy first: slow on a loaded 2-core machine.
  const timer = setTimeout(() => cli.kill(), 90_000);
  const { code } = await cli.exited;
  clearTimeout(timer);
  t.equal(code, 1, 'exit code 1, not killed by the test');
  t.match(cli.output(), new RegExp(`EADDRINUSE.*127\\.0\\.0\\.1:${http}`));
});
