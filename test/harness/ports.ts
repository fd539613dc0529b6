// Small network/process helpers for the test backend: free ports, greeting and
// shutdown waits. Every wait is bounded so a broken daemon fails a test instead of
// hanging it until tap's timeout.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const HOST = '127.0.0.1';

// Ports for daemons a test starts (Dovecot, Postfix, nginx, redis, a CLI proxy) are picked
// here and bound later by the daemon, seconds later on a loaded machine. Two things can take a
// port in that window: an outgoing connection of a test running beside this one (the kernel's
// ephemeral range is also where a port-0 bind lands), and another test process picking the same
// port. So picks come from below the ephemeral range, where the kernel never hands out ports,
// and each is reserved by a file created exclusively in a directory all test processes share;
// a reservation expires after RESERVED_MS, by when its daemon holds the port or has ended.
const RESERVE_DIR = join(tmpdir(), 'omp-test-ports');
const RESERVED_MS = 10 * 60_000;
const LOWEST_PICK = 20_000;

/** The ports picks come from: [LOWEST_PICK, start of the ephemeral range), or none if too few. */
function pickRange(): [number, number] | undefined {
  try {
    const lo = Number.parseInt(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0] ?? '', 10);
    return Number.isInteger(lo) && lo - LOWEST_PICK >= 2000 ? [LOWEST_PICK, lo] : undefined;
  } catch {
    return undefined;
  }
}

/** True when this process now holds the reservation of `port` (made, or taken over once expired). */
function reserve(port: number): boolean {
  const file = join(RESERVE_DIR, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      closeSync(openSync(file, 'wx'));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        if (Date.now() - statSync(file).mtimeMs < RESERVED_MS) return false;
        unlinkSync(file);
      } catch { /* another process took it over meanwhile: try once more */ }
    }
  }
  return false;
}

function listenOn(port: number): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' || e.code === 'EACCES' ? resolve(undefined) : reject(e)));
    s.listen({ port, host: HOST, exclusive: true }, () => resolve(s));
  });
}

/** Picks `count` distinct free ports on 127.0.0.1 for daemons a test starts (see above). */
export async function freePorts(count: number): Promise<number[]> {
  const range = pickRange();
  if (range) mkdirSync(RESERVE_DIR, { recursive: true, mode: 0o1777 });
  // Held open until every port is read, so no two picks of one call are the same port.
  const servers: Server[] = [];
  try {
    for (let tries = 0; servers.length < count; tries++) {
      if (tries > count * 200) throw new Error(`freePorts: no ${count} free ports found`);
      let s: Server | undefined;
      if (range) {
        const port = range[0] + Math.floor(Math.random() * (range[1] - range[0]));
        if (!reserve(port)) continue;
        s = await listenOn(port);
      } else {
        s = await listenOn(0);
      }
      if (s) servers.push(s);
    }
    return servers.map((s) => (s.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

/** A port nothing listens on (reserved like a daemon's, and never bound): a dead backend or IdP. */
export async function deadPort(): Promise<number> {
  return (await freePorts(1))[0]!;
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
