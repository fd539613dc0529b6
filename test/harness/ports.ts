// Small network/process helpers for the test backend: free ports, greeting and
// shutdown waits. Every wait is bounded so a broken daemon fails a test instead of
// hanging it until tap's timeout.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const HOST = '127.0.0.1';

/** Picks `count` distinct free ports on 127.0.0.1 (bind port 0, read it, close). */
export async function freePorts(count: number): Promise<number[]> {
  // Hold all servers open until every port is read, so the kernel cannot hand the
  // same port out twice within one call.
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, HOST, () => resolve(s));
    })),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === 'string') throw new Error('no port');
    return addr.port;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Connects once and resolves with the first chunk the server sends (or rejects). */
function readGreeting(port: number, timeoutMs: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('greeting timeout')); }, timeoutMs);
    sock.once('data', (d) => { clearTimeout(timer); sock.destroy(); resolve(d.toString('latin1')); });
    sock.once('error', (e) => { clearTimeout(timer); sock.destroy(); reject(e); });
    sock.once('close', () => { clearTimeout(timer); reject(new Error('closed before greeting')); });
  });
}

/** Polls until the port answers with a line starting with `prefix`, e.g. '* OK' or '220 '. */
export async function waitForGreeting(port: number, prefix: string, deadline: number, host = HOST): Promise<void> {
  let last = '';
  while (Date.now() < deadline) {
    try {
      const g = await readGreeting(port, Math.max(100, deadline - Date.now()), host);
      if (g.startsWith(prefix)) return;
      last = `unexpected greeting ${JSON.stringify(g.slice(0, 200))}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(25);
  }
  throw new Error(`port ${port}: no "${prefix}" greeting (${last})`);
}

function portOpen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (open: boolean) => { sock.destroy(); resolve(open); };
    sock.setTimeout(500, () => done(true)); // a hanging connect means something is there
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Polls until nothing accepts connections on any of the ports. */
export async function waitPortsClosed(ports: number[], deadline: number, host = HOST): Promise<void> {
  for (;;) {
    const open = (await Promise.all(ports.map((p) => portOpen(p, host)))).some(Boolean);
    if (!open) return;
    if (Date.now() > deadline) throw new Error(`ports still open: ${ports.join(', ')}`);
    await sleep(25);
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A daemonized master is reparented to PID 1; if that init does not reap, the
  // exited master stays a zombie, which kill(0) still reports as alive.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export async function readPid(file: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(file, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * SIGTERM a daemon's master by pid and wait for it to exit; SIGKILL its process
 * group if it does not within the deadline (both masters are group leaders).
 */
export async function killAndWait(pid: number, graceMs: number): Promise<void> {
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + graceMs;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) {
      try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
      await sleep(50);
      return;
    }
    await sleep(20);
  }
}

/** Last `lines` lines of a log file, for error messages. */
export async function tail(file: string, lines = 30): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-lines - 1).join('\n');
  } catch (e) {
    return `(${file}: ${(e as Error).message})`;
  }
}

/**
 * Runs a command that daemonizes and waits only for its exit status. execFile would
 * hang: the forked daemon keeps the inherited stderr pipe open (Dovecot does). Output
 * goes to `outFile` instead and is quoted in the error on failure.
 */
export async function runDaemonizing(cmd: string, args: string[], outFile: string): Promise<void> {
  const fd = openSync(outFile, 'a');
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
      child.once('error', reject);
      child.once('exit', (c) => resolve(c));
    });
    if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${await tail(outFile, 20)}`);
  } finally {
    closeSync(fd);
  }
}
