// The bench's world: the DMS-like backend with raised limits, the in-process IdP, a mailbox of
// generated messages for bulk FETCH, and the proxy as a separate process (its CPU time and
// resident memory are read from /proc).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { startBackend, type Backend } from '../harness/backend.js';
import { startIdp, type Idp } from '../harness/idp.js';
import { makeCerts, type CertSet } from '../harness/certs.js';
import { freePorts, tail, waitForGreeting } from '../harness/ports.js';
import { VMAIL_ID } from '../harness/dovecot.js';
import { watchChild } from '../harness/watchdog.js';

export const LOGIN_USER = 'alice@example.test';
export const BULK_USER = 'bulk@example.test';
const BULK_PASSWORD = 'bulk-secret';

export interface BenchWorld {
  readonly backend: Backend;
  readonly idp: Idp;
  readonly certs: CertSet;
  readonly backendCa: string;
  readonly proxyCa: string;
  /** A token for LOGIN_USER and one for BULK_USER that the proxy caches after first use. */
  readonly token: string;
  readonly bulkToken: string;
  stop(): Promise<void>;
}

export interface WorldOptions {
  /** Concurrent Dovecot imap sessions needed (idle test). */
  readonly maxSessions: number;
  /** Size of BULK_USER's INBOX in bytes. */
  readonly mailboxBytes: number;
}

export async function startWorld(o: WorldOptions): Promise<BenchWorld> {
  // Dovecot 2.3 runs one imap process per logged-in session (service_count = 1).
  const processes = o.maxSessions + 200;
  const dovecotConf = `
default_client_limit = ${o.maxSessions * 2 + 1000}
service imap {
  process_limit = ${processes}
}
service imap-login {
  process_limit = 512
}
`;
  const backend = await startBackend({
    mailMaxUserIpConnections: o.maxSessions + 1000,
    dovecotConf,
    // Submitted mail is discarded: the bench measures submission, not LMTP delivery, and
    // background deliveries would otherwise load the next measurement.
    postfixConf: 'virtual_transport = discard:bench\nsmtpd_client_connection_count_limit = 1000\n',
  });
  let idp: Idp | undefined;
  try {
    await backend.addUser(BULK_USER, BULK_PASSWORD);
    await fillMailbox(join(backend.dir, 'mail', 'example.test', 'bulk', 'Maildir'), o.mailboxBytes);
    idp = await startIdp();
    idp.addAccount({ email: BULK_USER });
    const certs = await makeCerts(join(backend.dir, 'proxy-certs'), { prefix: 'proxy-' });
    const token = await idp.mintToken(LOGIN_USER);
    const bulkToken = await idp.mintToken(BULK_USER);
    const i = idp;
    return {
      backend, idp, certs, token, bulkToken,
      backendCa: await readFile(backend.caFile, 'utf8'),
      proxyCa: await readFile(certs.caFile, 'utf8'),
      async stop() {
        await Promise.allSettled([i.stop(), backend.stop()]);
      },
    };
  } catch (e) {
    await Promise.allSettled([idp?.stop(), backend.stop()]);
    throw e;
  }
}

/**
 * Writes messages straight into the maildir (faster than APPEND, and Dovecot indexes them on
 * first SELECT): 256 KiB each, CRLF lines of base64 text so no body line can look like a
 * tagged reply.
 */
async function fillMailbox(maildir: string, bytes: number): Promise<void> {
  const messageBytes = Math.min(256 * 1024, bytes);
  const count = Math.max(1, Math.round(bytes / messageBytes));
  for (const d of ['cur', 'new', 'tmp']) await mkdir(join(maildir, d), { recursive: true });
  const line = (): string => `${randomBytes(57).toString('base64')}\r\n`; // 78 bytes per line
  const now = Math.floor(Date.now() / 1000);
  for (let n = 0; n < count; n++) {
    const head = `From: alice@example.test\r\nTo: ${BULK_USER}\r\nSubject: bench ${n}\r\nMessage-ID: <bench-${n}@example.test>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n`;
    const parts = [head];
    let size = head.length;
    while (size < messageBytes) { const l = line(); parts.push(l); size += l.length; }
    const body = parts.join('');
    const name = `${now}.M${n}P1.bench,S=${body.length},W=${body.length}:2,S`;
    await writeFile(join(maildir, 'cur', name), body);
  }
  for (const p of [join(maildir, '..', '..'), join(maildir, '..'), maildir, ...['cur', 'new', 'tmp'].map((d) => join(maildir, d))]) {
    await chown(p, VMAIL_ID, VMAIL_ID);
  }
  const { readdir } = await import('node:fs/promises');
  for (const f of await readdir(join(maildir, 'cur'))) await chown(join(maildir, 'cur', f), VMAIL_ID, VMAIL_ID);
}

export interface ProxyProcess {
  readonly pid: number;
  readonly imapPort: number;
  readonly imapsPort: number;
  readonly submissionPort: number;
  readonly logFile: string;
  stop(): Promise<void>;
}

export type ProxyBuild = 'dist' | 'src';

/**
 * The proxy's settings in the bench (no listeners): its process's environment, and the config
 * the checking auth_http server for nginx loads (nginx.ts), so that both check tokens and count
 * failures alike.
 */
export function benchProxyEnv(w: BenchWorld): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LISTEN_IMAP: '',
    LISTEN_IMAPS: '',
    LISTEN_SUBMISSION: '',
    LISTEN_SUBMISSIONS: '',
    LISTEN_HTTP: '',
    SMTP_HOSTNAME: 'proxy.example.test',
    SSL_CERT_PATH: w.certs.certFile,
    SSL_KEY_PATH: w.certs.keyFile,
    ALLOW_PLAINTEXT_AUTH: '1',
    OAUTH2_INTROSPECTION_URL: w.idp.userinfoUrl,
    DMS_HOST: w.backend.host,
    DMS_IMAP_PORT: String(w.backend.imapPort),
    // The bench compares the proxy with a client talking to Dovecot directly in plaintext on
    // loopback (trusted, so Dovecot allows it): the backend leg is plaintext too.
    DMS_TLS: 'none',
    DMS_SUBMISSION_PORT: String(w.backend.submissionPort),
    DMS_SUBMISSION_TLS: 'starttls', // Postfix submission requires TLS (DMS: encrypt)
    DMS_TLS_CA_FILE: w.backend.caFile,
    DMS_TLS_SERVERNAME: 'localhost',
    DMS_MASTER_USER: w.backend.master.user,
    DMS_MASTER_PASSWORD: w.backend.master.password,
    LOG_LEVEL: 'info',
    AUTH_FAIL_DELAY_MS: '0',
    AUTH_FAIL_MAX_PER_IP: '100000',
    AUTH_FAIL_MAX_PER_USER: '100000',
    MAX_CONNECTIONS: '100000',
    MAX_CONNECTIONS_PER_IP: '100000',
    MAX_PREAUTH_SESSIONS: '100000',
    TLS_RELOAD_INTERVAL_SECONDS: '0',
    SHUTDOWN_GRACE_SECONDS: '1',
  };
}

/** Starts `oauth2-mail-proxy` as its own process (the compiled dist/src/cli.js unless `build` is 'src'). */
export async function startProxyProcess(w: BenchWorld, o: { build: ProxyBuild; name: string; nodeArgs?: string[]; env?: Record<string, string>; /** Another compiled cli.js, e.g. an older build to compare with. */ cli?: string }): Promise<ProxyProcess> {
  const [imapPort, imapsPort, submissionPort] = await freePorts(3) as [number, number, number];
  const logFile = join(w.backend.dir, `proxy-${o.name}.log`);
  const env: Record<string, string> = {
    ...benchProxyEnv(w),
    LISTEN_IMAP: `127.0.0.1:${imapPort}`,
    LISTEN_IMAPS: `127.0.0.1:${imapsPort}`,
    LISTEN_SUBMISSION: `127.0.0.1:${submissionPort}`,
    ...o.env,
  };
  const root = join(import.meta.dirname, '..', '..');
  const dist = o.cli ?? join(root, 'dist', 'src', 'cli.js');
  const args = o.build === 'dist'
    ? [...(o.nodeArgs ?? []), dist]
    : ['--import', import.meta.resolve('tsx'), ...(o.nodeArgs ?? []), join(root, 'src', 'cli.ts')];
  if (o.build === 'dist' && !existsSync(dist)) throw new Error(`${dist} is missing: run npm run build (or use --proxy=src)`);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', fd, fd] });
    watchChild(child);
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    await Promise.race([
      // From src/ every module is transpiled at start: slow on 2 cores shared with other tests.
      waitForGreeting(imapPort, '* OK', Date.now() + (o.build === 'src' ? 60_000 : 20_000)),
      exited.then(() => { throw new Error('proxy exited'); }),
    ]);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`proxy ${o.name} did not start: ${(e as Error).message}\n${await tail(logFile, 20)}`);
  }
  return {
    pid: child.pid!, imapPort, imapsPort, submissionPort, logFile,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}
