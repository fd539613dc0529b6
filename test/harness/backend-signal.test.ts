// A test file that tap (or a developer's Ctrl-C) ends with a signal must not leave its
// backend's Dovecot and Postfix running: they are daemons (own session, parent 1) and kept
// their ports and CPU until someone killed them by hand. SIGTERM, SIGINT and SIGHUP now stop
// them before the process goes, and the process still ends by that signal.
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pidAlive } from './ports.js';

const LOADER = join(import.meta.dirname, '..', '..', 'node_modules', '@tapjs', 'typescript', 'dist', 'esm', 'import.mjs');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal} to a test process: its Dovecot and Postfix stop with it`, async (t) => {
    const child = spawn(process.execPath, ['--import', LOADER, join(import.meta.dirname, 'hold-backend.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const started = Date.now();
    while (!out.includes('\n') && Date.now() - started < 30_000 && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    const { pids } = JSON.parse(out) as { pids: number[] };
    t.equal(pids.length, 2);
    t.ok(pids.every((p) => p > 0 && pidAlive(p)), 'Dovecot and Postfix masters are running');
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, s) => r(s)));
    child.kill(signal);
    t.equal(await exited, signal, `the process still ends by ${signal}`);
    const until = Date.now() + 10_000;
    while (pids.some(pidAlive) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    const left = pids.filter(pidAlive);
    t.same(left, [], 'no master left running');
    for (const p of left) try { process.kill(-p, 'SIGKILL'); } catch { /* gone */ } // each master leads its process group: never leave them behind
  });
}
