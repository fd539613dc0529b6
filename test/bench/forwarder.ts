// The floor for a proxy written in Node: a bare forwarder that accepts, dials the backend and
// pipes both ways with stream.pipe() (default stream buffers), no TLS, no parsing, no auth,
// no logging. The bench runs it as its own process and measures it like the proxy, so each
// figure can be read against what Node itself costs on this machine.
//
// As a child process: node forwarder.ts PORT_FILE BACKEND_PORT (writes its port when listening).
import net from 'node:net';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Forwarder { readonly pid: number; readonly port: number; stop(): void }

export async function startForwarder(backendPort: number, dir: string): Promise<Forwarder> {
  const portFile = join(dir, `forwarder-${process.pid}-${Date.now()}.port`);
  const loader = join(import.meta.dirname, '..', '..', 'node_modules', '@tapjs', 'typescript', 'dist', 'esm', 'import.mjs');
  const child = spawn(process.execPath, ['--import', loader, import.meta.filename, portFile, String(backendPort)], { stdio: 'ignore' });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const port = Number(await readFile(portFile, 'utf8').catch(() => ''));
    if (port) return { pid: child.pid!, port, stop: () => child.kill('SIGKILL') };
    if (Date.now() > deadline || child.exitCode !== null) { child.kill('SIGKILL'); throw new Error('forwarder did not start'); }
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
