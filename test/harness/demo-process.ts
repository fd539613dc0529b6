// The demo (demo.ts) as a child process for the signal tests: either the demo itself run from
// src/, or `npm run demo` as the README says (npm, its script shell, the build, then node).
// Each run is the leader of a process group of its own, as a command at a terminal prompt is,
// so a test can send what Ctrl-C sends; its proxy listens on free ports.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { descendants } from './leftovers.js';
import { freePorts } from './ports.js';

const ROOT = join(import.meta.dirname, '..', '..');
const LOADER = import.meta.resolve('tsx');

export interface DemoProcess {
  /** The process spawned: node running the demo, or npm. */
  readonly pid: number;
  /** The node process that runs demo.js/demo.ts (the same as pid unless via npm). */
  readonly nodePid: number;
  /** The backend's temp dir (its pid files, logs, certificates). */
  readonly dir: string;
  /** The proxy's four listeners and the backend's IMAP and submission ports. */
  readonly ports: number[];
  /** Whether the spawned process ended within `ms`. */
  exited(ms: number): Promise<boolean>;
  /** Teardown: SIGKILL the whole process group if it still runs. */
  kill(): void;
}

function cmdline(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' '); } catch { return ''; }
}

export async function spawnDemo(how: ['node'] | ['npm'], readyMs = 120_000): Promise<DemoProcess> {
  const ports = await freePorts(4);
  const env = {
    ...process.env,
    DEMO_IMAP_PORT: String(ports[0]), DEMO_IMAPS_PORT: String(ports[1]),
    DEMO_SUBMISSION_PORT: String(ports[2]), DEMO_SUBMISSIONS_PORT: String(ports[3]),
    LOG_LEVEL: 'warn',
  };
  const [cmd, args] = how[0] === 'npm'
    ? ['npm', ['run', 'demo']]
    : [process.execPath, ['--import', LOADER, join(ROOT, 'test', 'harness', 'demo.ts')]];
  const child = spawn(cmd, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exit = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = (): void => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } };
  const deadline = Date.now() + readyMs;
  while (!out.includes('Press Ctrl-C to stop.')) {
    if (Date.now() > deadline || child.exitCode !== null) {
      kill();
      throw new Error(`demo did not start:\n${out.slice(-3000)}`);
    }
    await sleep(100);
  }
  const dir = dirname(/--cacert (\S+)/.exec(out)![1]!);
  const backend = /Dovecot [\d.]+:(\d+), Postfix [\d.]+:(\d+)/.exec(out)!;
  const nodePid = how[0] === 'npm' ? descendants(child.pid!).find((p) => /^\S*node .*demo\.js/.test(cmdline(p)))! : child.pid!;
  return {
    pid: child.pid!, nodePid, dir, ports: [...ports, Number(backend[1]), Number(backend[2])],
    exited: (ms) => Promise.race([exit.then(() => true), sleep(ms, undefined, { ref: false }).then(() => false)]),
    kill,
  };
}
