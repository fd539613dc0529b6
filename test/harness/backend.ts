// A real DMS-like mail backend (Dovecot 2.3 + Postfix 3.7, or 2.4 + 3.10: flavour.ts) per test file, on free
// loopback ports, with everything in one temp dir. Needs root and the packages from
// scripts/install-backend.sh. See dovecot.ts / postfix.ts for the configuration.
import { chown, mkdir, mkdtemp, readFile, rm, chmod } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCerts } from './certs.js';
import {
  addDovecotUser, addDovecotUserWithHash, dovecotPaths, startDovecot, stopDovecot, VMAIL_ID, writeDovecotConf, writeMasters,
} from './dovecot.js';
import {
  addPostfixUser, DOMAIN, postfixPaths, startPostfix, stopPostfix, writePostfixConf,
} from './postfix.js';
import { debian13Unavailable, flavourFromEnv, type Flavour } from './flavour.js';
import { freePorts, HOST, readPid, tail, waitForGreeting, waitPortsClosed } from './ports.js';
import { watch } from './watchdog.js';

export interface BackendOptions {
  /** DMS generation to imitate; default DMS_FLAVOUR from the environment, else debian12 (see flavour.ts). */
  flavour?: Flavour;
  /**
   * Loopback address Dovecot and Postfix bind (default 127.0.0.1). On another one, e.g.
   * 127.0.0.2, the proxy's connections come from 127.0.0.1, a different address, as from
   * a separate container: Dovecot then no longer counts them as secured for being local.
   */
  host?: string;
  /** Add smtpd_authorized_xclient_hosts=127.0.0.0/8 on the submission services. */
  xclient?: boolean;
  /** Extra lines appended to dovecot.conf. */
  dovecotConf?: string;
  /** Dovecot mail_max_userip_connections; DMS default 10. */
  mailMaxUserIpConnections?: number;
  /** Extra lines appended to Postfix's main.cf (a later setting overrides an earlier one). */
  postfixConf?: string;
}

export interface MailUser { email: string; password: string }

export interface Backend {
  flavour: Flavour;
  dir: string;
  host: string;
  imapPort: number;          // DMS 143: plain + STARTTLS
  imapsPort: number;         // DMS 993: implicit TLS
  imapHaproxyPort: number;   // DMS 10143: PROXY protocol required (haproxy = yes)
  imapsHaproxyPort: number;  // DMS 10993: PROXY protocol, then implicit TLS (haproxy = yes, ssl = yes)
  pop3Port: number;          // DMS 110 (ENABLE_POP3=1): plain + STLS
  pop3sPort: number;         // DMS 995: implicit TLS
  pop3HaproxyPort: number;   // a pop3 listener with haproxy = yes
  submissionHaproxyPort: number; // DMS 10587: PROXY protocol required (smtpd_upstream_proxy_protocol)
  submissionPort: number;    // DMS 587: STARTTLS required
  submissionsPort: number;   // DMS 465: wrapper mode
  submissionPlainPort: number; // not in DMS: submission with TLS optional (SASL over plaintext), e.g. on a private network
  smtpPort: number;          // DMS 25: inbound, no auth
  managesievePort: number;   // DMS 4190: ManageSieve, STARTTLS
  managesieveHaproxyPort: number; // ManageSieve with PROXY protocol required (haproxy = yes)
  caFile: string;
  master: { user: string; password: string };
  users: MailUser[];
  addUser(email: string, password: string): Promise<void>;
  /**
   * Imports a DMS postfix-accounts.cf (`user@domain|{SCHEME}hash` lines), as DMS's change
   * detector does: users missing here are added to Dovecot's passwd-file and Postfix's
   * mailbox map (one reload). Returns the addresses added.
   */
  syncDmsAccounts(accountsFile: string): Promise<string[]>;
  dovecotLog(): Promise<string>;
  postfixLog(): Promise<string>;
  restartPostfix(): Promise<void>;
  /** Stops Dovecot (every IMAP connection to it drops) and starts it again on the same ports. */
  restartDovecot(): Promise<void>;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;

// Master pid files of running backends, so a test process that dies without its
// teardown does not leave daemons holding ports behind. Dovecot and Postfix are daemons (own
// session, parent 1): nothing takes them down with us unless we do, on exit and on the
// signals that end a test file (tap's SIGTERM on a time-out, Ctrl-C, a closed terminal).
// A master that gets SIGTERM stops its children itself. What no handler here can cover (SIGKILL,
// SIGALRM from tap's time-out, a second signal during the clean-up) the watchdog does.
const running = new Set<string[]>();
function stopRunningDaemons(): void {
  for (const pidFiles of running) {
    for (const f of pidFiles) {
      try { process.kill(Number.parseInt(readFileSync(f, 'utf8'), 10), 'SIGTERM'); } catch { /* gone */ }
    }
  }
  running.clear();
}
process.on('exit', stopRunningDaemons);
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  // Once: then the signal again, so the process still ends by it (or by whoever else listens).
  process.once(signal, () => {
    stopRunningDaemons();
    process.kill(process.pid, signal);
  });
}

export async function startBackend(opts: BackendOptions = {}): Promise<Backend> {
  const flavour = opts.flavour ?? flavourFromEnv();
  const host = opts.host ?? HOST;
  if (flavour === 'debian13') {
    const reason = debian13Unavailable();
    if (reason) throw new Error(`startBackend(debian13): ${reason}`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'omp-backend-'));
  // Dovecot (vmail, dovecot) and Postfix (postfix) users must traverse the dir.
  await chmod(dir, 0o755);
  const dp = dovecotPaths(dir, flavour);
  const pp = postfixPaths(dir, flavour);
  const pidFiles = [join(dp.baseDir, 'master.pid'), join(pp.queueDir, 'pid', 'master.pid')];
  const unwatch = watch({ pidFiles, dirs: [dir] });
  const [imapPort, imapsPort, submissionPort, submissionsPort, smtpPort, imapHaproxyPort, submissionHaproxyPort, imapsHaproxyPort, pop3Port, pop3sPort, pop3HaproxyPort, managesievePort, managesieveHaproxyPort, submissionPlainPort] =
    await freePorts(14) as [number, number, number, number, number, number, number, number, number, number, number, number, number, number];
  const ports = [imapPort, imapsPort, submissionPort, submissionsPort, smtpPort, imapHaproxyPort, submissionHaproxyPort, imapsHaproxyPort, pop3Port, pop3sPort, pop3HaproxyPort, managesievePort, managesieveHaproxyPort, submissionPlainPort];
  const master = { user: 'master', password: 'master-secret' };
  const users: MailUser[] = [
    { email: `alice@${DOMAIN}`, password: 'alice-secret' },
    { email: `bob@${DOMAIN}`, password: 'bob-secret' },
  ];

  const synced = new Set<string>(); // users imported by syncDmsAccounts (no password known)
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= (async () => {
    running.delete(pidFiles);
    const dovecotPid = await readPid(pidFiles[0]!);
    await Promise.all([stopDovecot(dp), stopPostfix(pp)]);
    // As in restartDovecot: imap processes of sessions still open can outlive the master.
    if (dovecotPid !== undefined) try { process.kill(-dovecotPid, 'SIGKILL'); } catch { /* group gone */ }
    await waitPortsClosed(ports, Date.now() + 5000, host).catch(() => {});
    await rm(dir, { recursive: true, force: true });
    unwatch();
  })());

  try {
    const certs = await makeCerts(join(dir, 'certs'), { prefix: 'backend-' });
    await mkdir(join(dir, 'dovecot'), { recursive: true });
    await mkdir(dp.stateDir, { recursive: true });
    await mkdir(dp.mailDir, { recursive: true });
    await chown(dp.mailDir, VMAIL_ID, VMAIL_ID);
    await writeDovecotConf(dp, {
      host, imapPort, imapsPort, imapHaproxyPort, imapsHaproxyPort, pop3Port, pop3sPort, pop3HaproxyPort, managesievePort, managesieveHaproxyPort,
      certFile: certs.certFile, keyFile: certs.keyFile,
      mailMaxUserIpConnections: opts.mailMaxUserIpConnections ?? 10, extra: opts.dovecotConf,
    });
    await writePostfixConf(pp, {
      host, smtpPort, submissionPort, submissionsPort, submissionHaproxyPort, submissionPlainPort, certFile: certs.certFile, keyFile: certs.keyFile,
      lmtpSocket: dp.lmtpSocket, authSocket: dp.authSocket, xclient: opts.xclient ?? false, logPrefix: dir, extra: opts.postfixConf,
    });
    await writeMasters(dp, master.user, master.password);
    for (const u of users) {
      await addDovecotUser(dp, u.email, u.password);
      await addPostfixUser(pp, u.email, false);
    }

    running.add(pidFiles);
    // allSettled: if one fails, the other must have finished starting before stop()
    // reads its pid file, or it would be left running.
    const starts = await Promise.allSettled([startDovecot(dp), startPostfix(pp)]);
    for (const r of starts) if (r.status === 'rejected') throw r.reason;
    const deadline = Date.now() + START_TIMEOUT_MS;
    await Promise.all([waitForGreeting(imapPort, '* OK', deadline, host), waitForGreeting(submissionPort, '220 ', deadline, host)]);

    return {
      flavour, dir, host, imapPort, imapsPort, submissionPort, submissionsPort, smtpPort, imapHaproxyPort, imapsHaproxyPort, submissionHaproxyPort, submissionPlainPort,
      managesievePort, managesieveHaproxyPort,
      pop3Port, pop3sPort, pop3HaproxyPort,
      caFile: certs.caFile, master, users,
      async addUser(email, password) {
        // Dovecot would silently use the first of two passwd-file entries.
        if (users.some((u) => u.email === email)) throw new Error(`${email} exists already`);
        await Promise.all([addDovecotUser(dp, email, password, true), addPostfixUser(pp, email, true)]);
        users.push({ email, password });
      },
      async syncDmsAccounts(accountsFile) {
        const text = await readFile(accountsFile, 'utf8').catch(() => '');
        const fresh = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
          .map((l) => l.split('|') as [string, string?])
          .filter(([email, hash]) => hash && !users.some((u) => u.email === email.toLowerCase()) && !synced.has(email.toLowerCase()));
        for (const [i, [email, hash]] of fresh.entries()) {
          const last = i === fresh.length - 1;
          await Promise.all([addDovecotUserWithHash(dp, email.toLowerCase(), hash!, last), addPostfixUser(pp, email.toLowerCase(), last)]);
          synced.add(email.toLowerCase());
        }
        return fresh.map(([email]) => email.toLowerCase());
      },
      dovecotLog: () => readFile(dp.log, 'utf8').catch(() => ''),
      postfixLog: () => readFile(pp.log, 'utf8').catch(() => ''),
      async restartPostfix() {
        await stopPostfix(pp);
        await waitPortsClosed([submissionPort, submissionsPort, smtpPort, submissionHaproxyPort, submissionPlainPort], Date.now() + 5000, host);
        await startPostfix(pp);
        await waitForGreeting(submissionPort, '220 ', Date.now() + START_TIMEOUT_MS, host);
      },
      async restartDovecot() {
        // Like a container restart: the master and every process it started go. Stopping
        // only the master leaves running imap processes serving their sessions.
        const pid = await readPid(pidFiles[0]!);
        await stopDovecot(dp);
        if (pid !== undefined) try { process.kill(-pid, 'SIGKILL'); } catch { /* group gone */ }
        await waitPortsClosed([imapPort, imapsPort, imapHaproxyPort, imapsHaproxyPort, pop3Port, pop3sPort, pop3HaproxyPort, managesievePort, managesieveHaproxyPort], Date.now() + 5000, host);
        await startDovecot(dp);
        await waitForGreeting(imapPort, '* OK', Date.now() + START_TIMEOUT_MS, host);
      },
      stop,
    };
  } catch (e) {
    const logs = `--- dovecot.log ---\n${await tail(dp.log)}\n--- postfix.log ---\n${await tail(pp.log)}`;
    await stop().catch(() => {});
    throw new Error(`startBackend failed: ${(e as Error).message}\n${logs}`, { cause: e });
  }
}
