// The floor for a proxy written in Node: a bare forwarder that accepts, dials the backend and
// pipes both ways with stream.pipe() (default stream buffers), no TLS, no parsing, no auth,
// no logging. The bench runs it as its own process and measures it like the proxy, so each
// figure can be read against what Node itself costs on this machine.
//
// startHaproxyForwarder() is the same job done by HAProxy, the Debian package, in TCP mode:
// the reference for what a C event-loop forwarder costs on the same machine and kernel.
//
// As a child process: node forwarder.ts PORT_FILE BACKEND_PORT (writes its port when listening).
import net from 'node:net';
import { execFileSync, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from '../harness/ports.js';
import { watchChild } from '../harness/watchdog.js';

export interface Forwarder {
  readonly pid: number;
  readonly port: number;
  /** Every process whose CPU the forwarder's work costs (nginx: master, worker and its auth server). */
  pids(): number[];
  stop(): void;
}

/** `haproxy -v`'s version ('2.6.12'), or null when HAProxy is not installed. */
export function haproxyVersion(): string | null {
  try {
    return /version (\S+?)(?:-|\s)/.exec(execFileSync('haproxy', ['-v'], { encoding: 'utf8' }))?.[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * HAProxy in TCP mode with its defaults (16 KiB buffers, no splice(2)) and one thread, the
 * one event loop a Node process has. Foreground child process (-db), no system service.
 */
export async function startHaproxyForwarder(backendPort: number, dir: string): Promise<Forwarder> {
  const [port] = await freePorts(1) as [number];
  const config = join(dir, `bench-haproxy-${process.pid}-${Date.now()}.cfg`);
  await writeFile(config, [
    'global', '  nbthread 1', '  maxconn 4000',
    'defaults', '  mode tcp', '  timeout connect 5s', '  timeout client 10m', '  timeout server 10m',
    'frontend imap', `  bind 127.0.0.1:${port}`, '  default_backend dovecot',
    'backend dovecot', `  server dovecot 127.0.0.1:${backendPort}`, '',
  ].join('\n'));
  const child = spawn('haproxy', ['-f', config, '-db'], { stdio: 'ignore' });
  watchChild(child);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); }).on('error', () => resolve(false));
    });
    if (up) return { pid: child.pid!, port, pids: () => [child.pid!], stop: () => child.kill('SIGKILL') };
    if (Date.now() > deadline || child.exitCode !== null) { child.kill('SIGKILL'); throw new Error('haproxy did not start'); }
    await sleep(50);
  }
}

export async function startForwarder(backendPort: number, dir: string): Promise<Forwarder> {
  return startBenchChild('forwarder', dir, import.meta.filename, [String(backendPort)]);
}

/**
 * A bench server written in TypeScript as its own process: `node [nodeArgs] SCRIPT PORT_FILE
 * ...args`; it writes its port to PORT_FILE once it listens.
 */
export async function startBenchChild(name: string, dir: string, script: string, args: readonly string[], nodeArgs: readonly string[] = []): Promise<Forwarder> {
  const portFile = join(dir, `${name}-${process.pid}-${Date.now()}.port`);
  const loader = import.meta.resolve('tsx');
  const child = spawn(process.execPath, [...nodeArgs, '--import', loader, script, portFile, ...args], { stdio: 'ignore' });
  watchChild(child);
  const deadline = Date.now() + 60_000; // the TypeScript loader: slow on 2 loaded cores
  for (;;) {
    const port = Number(await readFile(portFile, 'utf8').catch(() => ''));
    if (port) return { pid: child.pid!, port, pids: () => [child.pid!], stop: () => child.kill('SIGKILL') };
    if (Date.now() > deadline || child.exitCode !== null) { child.kill('SIGKILL'); throw new Error(`${name} did not start`); }
    await sleep(50);
  }
}

function serve(portFile: string, backendPort: number): void {
  const server = net.createServer({ noDelay: true }, (client) => {
    const backend = net.connect({ host: '127.0.0.1', port: backendPort, noDelay: true });
    client.pipe(backend).pipe(client);
    const close = (): void => { client.destroy(); backend.destroy(); };
    client.on('error', close).on('close', close);
    backend.on('error', close).on('close', close);
  });
  server.listen(0, '127.0.0.1', () => { void writeFile(portFile, String((server.address() as net.AddressInfo).port)); });
}

if (process.argv[1] === import.meta.filename) serve(process.argv[2]!, Number(process.argv[3]));
