// nginx's mail proxy, the system DMS operators would pick instead of this proxy, as a target
// of the bench: Debian's nginx + libnginx-mod-mail, one worker, started by the bench with its
// own prefix and config (never the system service), and an `auth_http` server in Node that
// plays the part of a token check: it looks the client's password up in a map of known tokens
// (what our proxy's cache does for a cached token) and answers with the master login, so nginx
// logs in to Dovecot as `user*master`. nginx's CPU (master and worker) and the auth server's
// are counted together.
//
// nginx 1.22's IMAP side speaks LOGIN, AUTHENTICATE PLAIN/LOGIN/CRAM-MD5/EXTERNAL, not XOAUTH2
// or OAUTHBEARER (ngx_mail_imap_module: imap_auth), so the bench's clients send AUTHENTICATE
// PLAIN with the token as the password. nginx passes the credentials to auth_http in
// Auth-User/Auth-Pass (Auth-Method: plain) and logs in to the backend with
// `tag LOGIN {n}` + literal user + `{n}` + literal password, waiting for each `+`: three round
// trips to Dovecot where our proxy sends one AUTHENTICATE PLAIN with an initial response.
//
// The auth server is auth-http-server.mjs, a child process of its own; with `checked`, it is
// auth-http-checked.mjs instead: the token checked as this proxy checks it (the proxy's own
// modules: failure guard, token decision and cache, login line), what an operator's auth
// server in production does, where the map lookup is what nginx costs at the least.
import http from 'node:http';
import net from 'node:net';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from '../harness/ports.js';
import { watchChild } from '../harness/watchdog.js';
import type { Forwarder } from './forwarder.js';

const MAIL_MODULE = '/usr/lib/nginx/modules/ngx_mail_module.so';

/** `nginx -v`'s version ('1.22.1') when nginx and its mail module are installed, else null. */
export function nginxMailVersion(): string | null {
  if (!existsSync(MAIL_MODULE)) return null;
  // nginx -v writes its version to stderr.
  const r = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  return /nginx\/(\S+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1] ?? null;
}

export interface NginxMail extends Forwarder {
  /** The implicit-TLS (IMAPS) port when started with `tls`, else null. */
  readonly tlsPort: number | null;
  /** Wall-clock (ms, performance.timeOrigin + now()) arrival and answer of each auth_http request, oldest first. */
  authTimings(): Promise<Array<{ at: number; done: number }>>;
  /** Points the auth server's answers (Auth-Port) at another backend port (the phase relay), or back. */
  setBackendPort(port: number): Promise<void>;
}

export interface NginxOptions {
  readonly backendPort: number;
  readonly dir: string;
  readonly master: { user: string; password: string };
  /** token → email the auth server accepts. */
  readonly tokens: Record<string, string>;
  /** proxy_buffer (nginx's default is one page, 4 KiB here). */
  readonly proxyBuffer?: string;
  /** Also an implicit-TLS listener with this certificate (the proxy's, for a like-for-like TLS login). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** The checking auth server: the proxy's modules (dist/src, or src run under tsx) and its settings (benchProxyEnv()). */
  readonly checked?: CheckedAuth;
}

export interface CheckedAuth {
  readonly modules: string;
  readonly tsx: boolean;
  readonly env: Record<string, string>;
  /** Node flags for the auth server (perf-logins.ts: --perf-basic-prof). */
  readonly nodeArgs?: readonly string[];
}

/** The proxy's modules for the checking auth server, as the bench runs the proxy: compiled, or from src/ under tsx. */
export function checkedAuth(build: 'dist' | 'src', env: Record<string, string>): CheckedAuth {
  const root = join(import.meta.dirname, '..', '..');
  return build === 'src' ? { modules: join(root, 'src'), tsx: true, env } : { modules: join(root, 'dist', 'src'), tsx: false, env };
}

export async function startNginxMail(o: NginxOptions): Promise<NginxMail> {
  const tag = `${process.pid}-${Date.now()}-${o.proxyBuffer ?? 'default'}${o.checked ? '-checked' : ''}`;
  const prefix = join(o.dir, `nginx-${tag}`);
  await mkdir(join(prefix, 'logs'), { recursive: true });
  const auth = await startAuthServer(o, prefix);
  const [port, tlsPort] = await freePorts(2) as [number, number];
  const conf = join(prefix, 'nginx.conf');
  await writeFile(conf, [
    `load_module ${MAIL_MODULE};`,
    'daemon off;', 'master_process on;', 'worker_processes 1;', 'worker_rlimit_nofile 30000;',
    `pid ${join(prefix, 'nginx.pid')};`,
    `error_log ${join(prefix, 'logs', 'error.log')} warn;`,
    'events { worker_connections 16384; }',
    'mail {',
    `  auth_http 127.0.0.1:${auth.port}/auth;`,
    '  proxy_pass_error_message on;',
    ...(o.proxyBuffer ? [`  proxy_buffer ${o.proxyBuffer};`] : []),
    '  imap_client_buffer 16k;', // a token as the PLAIN password: the 1 KiB default is too small for JWTs
    '  server {',
    `    listen 127.0.0.1:${port};`,
    ...(o.tls ? [`    listen 127.0.0.1:${tlsPort} ssl;`, `    ssl_certificate ${o.tls.certFile};`, `    ssl_certificate_key ${o.tls.keyFile};`] : []),
    '    protocol imap;',
    '    imap_auth plain;',
    '  }',
    '}', '',
  ].join('\n'));
  // -e: the error log before the config is read (the default /var/log/nginx may not exist).
  // detached: nginx leads a process group with its worker, so the watchdog can SIGKILL both if
  // the bench dies and a SIGTERM to the master was not enough.
  const child = spawn('nginx', ['-p', prefix, '-c', conf, '-e', join(prefix, 'logs', 'error.log')], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  watchChild(child, { group: true });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
  const stop = (): void => { child.kill('SIGKILL'); auth.child.kill('SIGKILL'); killWorkers(workers); };
  let workers: number[] = [];
  const deadline = Date.now() + 10_000;
  for (;;) {
    workers = childPids(child.pid!);
    if (workers.length && await connects(port)) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      stop();
      throw new Error(`nginx did not start: ${stderr.trim() || await readFile(join(prefix, 'logs', 'error.log'), 'utf8').catch(() => '')}`);
    }
    await sleep(50);
  }
  return {
    port,
    tlsPort: o.tls ? tlsPort : null,
    pid: child.pid!,
    pids: () => [child.pid!, ...workers, auth.child.pid!],
    stop,
    authTimings: async () => JSON.parse(await httpGet(auth.port, '/timings')) as Array<{ at: number; done: number }>,
    setBackendPort: async (p) => { await httpGet(auth.port, `/backend?port=${p}`); },
  };
}

/** The worker: with master_process on, nginx's master forks it. */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killWorkers(pids: readonly number[]): void {
  for (const p of pids) {
    try { process.kill(p, 'SIGKILL'); } catch { /* gone with the master */ }
  }
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); }).on('error', () => resolve(false));
  });
}

function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`))).on('error', reject);
  });
}

async function startAuthServer(o: NginxOptions, prefix: string): Promise<{ child: ChildProcess; port: number }> {
  const portFile = join(prefix, 'auth.port');
  const args = [portFile, String(o.backendPort), o.master.user];
  // The checking server logs as the proxy does (stdout, batched): to a file, as the proxy's log.
  const logFd = o.checked ? openSync(join(prefix, 'logs', 'auth.log'), 'a') : null;
  const child = o.checked
    ? spawn(process.execPath, [...(o.checked.nodeArgs ?? []), ...(o.checked.tsx ? ['--import', import.meta.resolve('tsx')] : []), join(import.meta.dirname, 'auth-http-checked.mjs'), ...args, o.checked.modules], {
        stdio: ['ignore', logFd, 'inherit'],
        env: { ...o.checked.env, DMS_MASTER_PASSWORD: o.master.password },
      })
    : spawn(process.execPath, [join(import.meta.dirname, 'auth-http-server.mjs'), ...args], {
        stdio: 'ignore',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', BENCH_AUTH_TOKENS: JSON.stringify(o.tokens), BENCH_MASTER_PASSWORD: o.master.password },
      });
  if (logFd !== null) closeSync(logFd);
  watchChild(child);
  // From src/ the proxy's modules are transpiled at start: slow on 2 cores shared with other tests.
  const deadline = Date.now() + (o.checked?.tsx ? 60_000 : 20_000);
  for (;;) {
    const port = Number(await readFile(portFile, 'utf8').catch(() => ''));
    if (port) return { child, port };
    if (Date.now() > deadline || child.exitCode !== null) { child.kill('SIGKILL'); throw new Error('nginx auth_http server did not start'); }
    await sleep(50);
  }
}
