// A real redis-server (Debian's package) per test file, like the Dovecot of backend.ts: a
// free port on 127.0.0.1, its own directory, no persistence (`--save ''`), in the
// foreground as a child process. kill() and restart() simulate the store's outage and return
// (on the same port, with its data gone, as a store without persistence comes back).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, HOST } from './ports.js';

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** SIGKILL: the store is gone at once, connections reset. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty). */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: connections stay open but nothing is answered (a store that hangs). */
  pause(): void;
  resume(): void;
  /** One command over RESP (inline form), its raw reply; for assertions on what is stored. */
  command(line: string): Promise<string>;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;

export async function startRedis(opts: { password?: string } = {}): Promise<TestRedis> {
  const [port] = await freePorts(1) as [number];
  const dir = mkdtempSync(join(tmpdir(), 'o2mp-redis-'));
  let child: ChildProcess | undefined;
  let output = '';
  const launch = async (): Promise<void> => {
    const args = ['--port', String(port), '--bind', HOST, '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no',
      ...(opts.password ? ['--requirepass', opts.password] : [])];
    const c = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout!.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-8192); });
    c.stderr!.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-8192); });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`redis-server exited:\n${output}`);
      if ((await send(port, 'PING', opts.password).catch(() => '')).match(/PONG|NOAUTH/)) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not answer within ${START_TIMEOUT_MS} ms:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGCONT'); // a paused one could not act on SIGTERM
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill(signal);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  await launch();
  return {
    port,
    url: `redis://${HOST}:${port}/0`,
    kill: () => end('SIGKILL'),
    restart: launch,
    pause: () => { child?.kill('SIGSTOP'); },
    resume: () => { child?.kill('SIGCONT'); },
    command: (line) => send(port, line, opts.password),
    async stop() {
      await end('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One inline command on a fresh connection (AUTH first when needed); the reply's bytes read within 2 s. */
function send(port: number, line: string, password?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, HOST);
    let text = '';
    const timer = setTimeout(() => { s.destroy(); resolve(text); }, 2000);
    s.on('connect', () => s.write(`${password ? `AUTH ${password}\r\n` : ''}${line}\r\nQUIT\r\n`));
    s.on('data', (d) => { text += d.toString('utf8'); });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('close', () => { clearTimeout(timer); resolve(text); });
  });
}
