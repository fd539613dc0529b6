// A test file that tap (or a developer's Ctrl-C) ends with a signal must not leave its
// backend's Dovecot and Postfix running: they are daemons (own session, parent 1) and kept
// their ports and CPU until someone killed them by hand. SIGTERM, SIGINT and SIGHUP stop
// them before the process goes, and the process still ends by that signal. SIGALRM (what tap
// sends a test file that times out, before SIGKILL) and SIGKILL run no handler: the watchdog
// (watchdog.ts) stops the daemons then, and removes the backend's dir.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { killLeft, portsFree, waitGone } from './leftovers.js';
import { pidAlive } from './ports.js';

const LOADER = import.meta.resolve('tsx');

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGALRM', 'SIGKILL'] as const) {
  t.test(`${signal} to a test process: its Dovecot and Postfix stop with it`, async (t) => {
    const child = spawn(process.execPath, ['--import', LOADER, join(import.meta.dirname, 'hold-backend.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const started = Date.now();
    while (!out.includes('\n') && Date.now() - started < 30_000 && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    const { pids, ports, dir } = JSON.parse(out) as { pids: number[]; ports: number[]; dir: string };
    t.teardown(() => killLeft(pids, pids)); // each master leads its process group: never leave them behind
    t.equal(pids.length, 2);
    t.ok(pids.every((p) => p > 0 && pidAlive(p)), 'Dovecot and Postfix masters are running');
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, s) => r(s)));
    child.kill(signal);
    t.equal(await exited, signal, `the process still ends by ${signal}`);
    t.same(await waitGone(pids, pids, 10_000), [], 'no master, and nothing in their process groups, left running');
    t.ok(await portsFree(ports, 5000), 'the IMAP and submission ports are free');
    const until = Date.now() + 5000;
    while (existsSync(dir) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    t.notOk(existsSync(dir), 'the backend dir is removed');
  });
}
