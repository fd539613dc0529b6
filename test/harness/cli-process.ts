// The real CLI (src/cli.ts) as a child process, for tests of what only a process shows:
// signals, exit codes, how long it takes to exit. Output is collected; the child is killed
// at teardown if a test left it running.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface CliProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  /** Resolves with the exit code (null after a signal) and the time of the 'exit' event (epoch ms). */
  readonly exited: Promise<{ code: number | null; atMs: number }>;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** GET /readyz on `httpPort`: its status, 0 when it does not answer within 2 s. */
  ready(): Promise<number>;
  /** SIGKILL if still running (teardown). */
  kill(): void;
}

const ROOT = new URL('../../', import.meta.url).pathname;

export function spawnCli(env: Record<string, string>, httpPort: number): CliProcess {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), 'src/cli.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', CI: '1', ...env, LISTEN_HTTP: `127.0.0.1:${httpPort}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<{ code: number | null; atMs: number }>((resolve) => child.on('exit', (code) => resolve({ code, atMs: Date.now() })));
  return {
    child,
    exited,
    output: () => output,
    async ready() {
      try {
        return (await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(2000) })).status;
      } catch {
        return 0;
      }
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * The CLI run to its end with `args` and exactly `env` (PATH and CI added): its exit code and
 * everything it wrote; SIGKILLed (code null) after 30 s. For start-up refusals and subcommands.
 */
export function runCliToExit(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), 'src/cli.ts', ...args], {
      cwd: ROOT, env: { PATH: process.env.PATH ?? '', CI: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}
