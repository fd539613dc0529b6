// npm run demo: a self-contained proxy on this machine. A DMS-like Dovecot + Postfix
// (installed from Debian packages if missing), an in-process OpenID provider, and the
// proxy in front, then a curl command with a fresh token that logs in through it.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type ProxyServer } from '../../src/server.js';
import type { Backend } from './backend.js';
import { makeCerts } from './certs.js';
import type { Idp } from './idp.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function ensurePackages(): void {
  const missing = ['dovecot', 'doveadm', 'postfix', 'openssl', 'curl'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
  if (missing.length === 0) return;
  console.log(`Installing ${missing.join(', ')} from Debian packages (scripts/install-backend.sh)...`);
  execFileSync('bash', [join(root, 'scripts', 'install-backend.sh')], { stdio: 'inherit' });
}

// What is running, for stop(): a signal can come at any point of the start.
let backendStarting: Promise<Backend> | undefined;
let idp: Idp | undefined;
let server: ProxyServer | undefined;
let stopping: Promise<void> | undefined;

/**
 * Stops the proxy, the IdP and the backend (Dovecot, Postfix, its temp dir), then exits. Once:
 * a second signal, or the one backend.ts sends again after stopping the daemons itself, finds
 * this running and must not end the process half way (with the default action, as it did when
 * the handlers were `once`). What this cannot cover, SIGKILL, the watchdog does (watchdog.ts).
 */
function stop(code: number): Promise<void> {
  return stopping ??= (async () => {
    try {
      await server?.close();
      await idp?.stop();
      await (await backendStarting?.catch(() => undefined))?.stop();
    } finally {
      process.exit(code);
    }
  })();
}

async function main(): Promise<void> {
  // Ctrl-C, kill, a closed terminal: first thing, so that none ends the demo half way started.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (!stopping) console.log(`\n${signal}: stopping the proxy, Dovecot and Postfix...`);
      void stop(0);
    });
  }
  ensurePackages();
  const { startBackend } = await import('./backend.js');
  const { startIdp } = await import('./idp.js');
  backendStarting = startBackend();
  const backend = await backendStarting;
  if (stopping) return;
  idp = await startIdp();
  const certs = await makeCerts(backend.dir, { prefix: 'proxy-' });
  const imapPort = process.env.DEMO_IMAP_PORT ?? '10143';
  const imapsPort = process.env.DEMO_IMAPS_PORT ?? '10993';
  const submissionPort = process.env.DEMO_SUBMISSION_PORT ?? '10587';
  const submissionsPort = process.env.DEMO_SUBMISSIONS_PORT ?? '10465';
  const config = loadConfig({
    LISTEN_IMAP: `127.0.0.1:${imapPort}`,
    LISTEN_IMAPS: `127.0.0.1:${imapsPort}`,
    LISTEN_SUBMISSION: `127.0.0.1:${submissionPort}`,
    LISTEN_SUBMISSIONS: `127.0.0.1:${submissionsPort}`,
    DMS_SUBMISSION_PORT: String(backend.submissionPort),
    SSL_CERT_PATH: certs.certFile,
    SSL_KEY_PATH: certs.keyFile,
    OAUTH2_INTROSPECTION_URL: idp.userinfoUrl,
    DMS_HOST: backend.host,
    DMS_IMAP_PORT: String(backend.imapPort),
    DMS_TLS: 'starttls',
    DMS_TLS_CA_FILE: backend.caFile,
    DMS_TLS_SERVERNAME: 'localhost',
    DMS_MASTER_USER: backend.master.user,
    DMS_MASTER_PASSWORD: backend.master.password,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  });
  if (stopping) return;
  server = await startServer(config, createLogger(config.logLevel));
  if (stopping) return;
  const user = backend.users[0]!.email;
  const token = await idp.mintToken(user, { expiresInSeconds: 3600 });
  const caFile = certs.caFile;
  if (!existsSync(caFile)) throw new Error('demo CA missing');
  console.log(`
oauth2-mail-proxy demo is running.
  IMAP        127.0.0.1:${imapPort} (STARTTLS)   IMAPS       127.0.0.1:${imapsPort}
  submission  127.0.0.1:${submissionPort} (STARTTLS)   submissions 127.0.0.1:${submissionsPort}
  backend: Dovecot ${backend.host}:${backend.imapPort}, Postfix ${backend.host}:${backend.submissionPort}   IdP: ${idp.issuer}
  users: ${backend.users.map((u) => u.email).join(', ')}

Log in with a fresh OAuth2 token (valid for 1 hour) and list the mailboxes:

  curl --ssl-reqd --cacert ${caFile} --login-options AUTH=OAUTHBEARER \\
       --user ${user} --oauth2-bearer '${token}' 'imap://127.0.0.1:${imapPort}/'

Send a message to yourself through the submission port with the same token:

  printf 'Subject: hello\\r\\n\\r\\nfrom the demo\\r\\n' | curl --ssl-reqd --cacert ${caFile} \\
       --login-options AUTH=OAUTHBEARER --user ${user} --oauth2-bearer '${token}' \\
       --mail-from ${user} --mail-rcpt ${user} --upload-file - 'smtp://127.0.0.1:${submissionPort}'

Press Ctrl-C to stop.
`);
}

main().catch((err: Error) => {
  console.error(`demo failed: ${err.message}`);
  void stop(1);
});
