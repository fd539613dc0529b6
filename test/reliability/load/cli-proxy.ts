// The real CLI as a child process (like test/ops/shutdown-cli.test.ts), so its resident
// memory (/proc/PID/status VmRSS) and descriptors (/proc/PID/fd) are the proxy's alone.
// It runs compiled JavaScript: a TypeScript loader would add its own to the process
// (ts-node kept the TypeScript compiler, ~300 MiB RSS; tsx has its module hooks and
// transform cache). The tree is compiled with tsconfig.build.json into node_modules/.cache/
// (packages still resolve from there) when any source file is newer than that build; LOAD_CLI=dist uses `npm run build`'s dist/ instead. Output is counted
// per event and only its tail is kept: a soak writes tens of thousands of lines.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePorts } from '../../harness/ports.js';
import type { Backend } from '../../harness/backend.js';
import type { CertSet } from '../../harness/certs.js';

export interface CliProxy {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly imapsPort: number;
  readonly submissionsPort: number;
  readonly httpPort: number;
  readonly exited: Promise<number | null>;
  /** Log lines seen per `event` field. */
  readonly events: Map<string, number>;
  /** Distinct client addresses in the log lines (after PROXY protocol: the real clients). */
  readonly clients: Set<string>;
  /** The last 64 KiB of stdout + stderr. */
  output(): string;
  rssKiB(): number;
  fds(): number;
  /** GET /metrics: the sum of every series of that name; NaN if absent. */
  metric(name: string): Promise<number>;
  ready(): Promise<number>;
  /** With `inspect`: the child's inspector WebSocket URL, once it has printed it. */
  inspectorUrl(timeoutMs?: number): Promise<string>;
  /** SIGKILL if still running (teardown). */
  kill(): void;
}

const ROOT = new URL('../../../', import.meta.url).pathname;
const TAIL_BYTES = 64 * 1024;
const BUILD = join(ROOT, 'node_modules', '.cache', 'omp-load-build');

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtimeMs(p) : e.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
  }
  return newest;
}

let building: Promise<string> | undefined;
/** The compiled CLI's path, compiling first if src/ or test/harness/ changed since the last build (once per process). */
export function builtCli(): Promise<string> {
  return (building ??= build());
}

async function build(): Promise<string> {
  if (process.env.LOAD_CLI === 'dist') {
    if (!existsSync(join(ROOT, 'dist/src/cli.js'))) throw new Error('LOAD_CLI=dist: run `npm run build` first');
    return join(ROOT, 'dist/src/cli.js');
  }
  const stamp = join(BUILD, 'stamp');
  const sources = Math.max(newestMtimeMs(join(ROOT, 'src')), newestMtimeMs(join(ROOT, 'test/harness')));
  if (existsSync(stamp) && statSync(stamp).mtimeMs > sources && existsSync(join(BUILD, 'src/cli.js'))) return join(BUILD, 'src/cli.js');
  // Build beside, then swap, so a concurrent reader never sees half a tree.
  const tmp = `${BUILD}.${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', tmp, '--sourceMap', 'false'], { cwd: ROOT })
    .catch((e: Error & { stdout?: string }) => { rmSync(tmp, { recursive: true, force: true }); throw new Error(`build failed: ${e.stdout ?? e.message}`); });
  writeFileSync(join(tmp, 'stamp'), '');
  rmSync(BUILD, { recursive: true, force: true });
  renameSync(tmp, BUILD);
  return join(BUILD, 'src/cli.js');
}

export interface CliProxyOptions {
  backend: Pick<Backend, 'host' | 'imapPort' | 'submissionPort' | 'caFile' | 'master'>;
  userinfoUrl: string;
  certs: CertSet;
  env?: Record<string, string>;
  /** Start with --inspect on a free loopback port (see inspector.ts). */
  inspect?: boolean;
  /** More node options (V8 flags) for the child. */
  nodeArgs?: string[];
}

export async function startCliProxy(opts: CliProxyOptions): Promise<CliProxy> {
  const [imapsPort, submissionsPort, httpPort] = await freePorts(3) as [number, number, number];
  const nodeArgs = [...(opts.inspect ? ['--inspect=127.0.0.1:0'] : []), ...(opts.nodeArgs ?? [])];
  const child = spawn(process.execPath, [...nodeArgs, await builtCli()], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      LISTEN_IMAP: '', LISTEN_SUBMISSION: '',
      LISTEN_IMAPS: `127.0.0.1:${imapsPort}`, LISTEN_SUBMISSIONS: `127.0.0.1:${submissionsPort}`, LISTEN_HTTP: `127.0.0.1:${httpPort}`,
      SSL_CERT_PATH: opts.certs.certFile, SSL_KEY_PATH: opts.certs.keyFile, SMTP_HOSTNAME: 'proxy.example.test',
      OAUTH2_INTROSPECTION_URL: opts.userinfoUrl,
      DMS_HOST: opts.backend.host, DMS_IMAP_PORT: String(opts.backend.imapPort), DMS_SUBMISSION_PORT: String(opts.backend.submissionPort),
      DMS_TLS_CA_FILE: opts.backend.caFile, DMS_TLS_SERVERNAME: 'localhost',
      DMS_MASTER_USER: opts.backend.master.user, DMS_MASTER_PASSWORD: opts.backend.master.password,
      AUTH_FAIL_DELAY_MS: '0', AUTH_FAIL_MAX_PER_IP: '100000', AUTH_FAIL_MAX_PER_USER: '100000',
      LOG_LEVEL: 'info', CI: '1',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('the CLI did not start');
  let tail = '';
  let partial = '';
  const events = new Map<string, number>();
  const clients = new Set<string>();
  const onData = (d: Buffer): void => {
    const s = d.toString('utf8');
    tail = (tail + s).slice(-TAIL_BYTES);
    const lines = (partial + s).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      const m = /"event":"([^"]+)"/.exec(l);
      if (m) events.set(m[1]!, (events.get(m[1]!) ?? 0) + 1);
      const c = /"client":"([^"]+)"/.exec(l);
      if (c) clients.add(c[1]!);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  // Node prints "Debugger listening on ws://127.0.0.1:PORT/UUID" on stderr before the CLI runs.
  let stderrHead = '';
  let wsUrl: string | undefined;
  if (opts.inspect) {
    const onHead = (d: Buffer): void => {
      stderrHead += d.toString('utf8');
      wsUrl = /Debugger listening on (ws:\/\/\S+)/.exec(stderrHead)?.[1];
      if (wsUrl || stderrHead.length > 16 * 1024) child.stderr!.off('data', onHead);
    };
    child.stderr!.on('data', onHead);
  }
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const http = async (path: string): Promise<{ status: number; text: string }> => {
    try {
      const r = await fetch(`http://127.0.0.1:${httpPort}${path}`, { signal: AbortSignal.timeout(3000) });
      return { status: r.status, text: await r.text() };
    } catch {
      return { status: 0, text: '' };
    }
  };
  return {
    child, pid, imapsPort, submissionsPort, httpPort, exited, events, clients,
    output: () => tail,
    rssKiB: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? NaN),
    fds: () => readdirSync(`/proc/${pid}/fd`).length,
    async metric(name) {
      const { text } = await http('/metrics');
      const all = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'gm'))];
      return all.length ? all.reduce((sum, m) => sum + Number(m[1]), 0) : NaN;
    },
    ready: async () => (await http('/readyz')).status,
    async inspectorUrl(timeoutMs = 10_000) {
      if (!opts.inspect) throw new Error('the CLI was started without inspect');
      const deadline = Date.now() + timeoutMs;
      while (!wsUrl) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no inspector URL on stderr: ${stderrHead.slice(0, 500)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return wsUrl;
    },
    kill: () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); },
  };
}

/** Resolves with the exit code, or 'timeout'. */
export function exitWithin(p: CliProxy, ms: number): Promise<number | null | 'timeout'> {
  return Promise.race([p.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref())]);
}

export const MiB = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;
