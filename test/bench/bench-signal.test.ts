// The bench starts a DMS-like backend (Dovecot, Postfix: daemons), nginx with its auth_http
// server, HAProxy, Node forwarders and proxy processes. When the bench dies, none of them may
// stay: the smoke test SIGKILLs a bench that overruns, and tap's time-out ends the smoke test
// itself. They are found by the bench's process tree just before the signal and by the pid
// files in its backend's dir, never by name (other tests run the same programs).
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { backendMasters, descendants, killLeft, waitGone } from '../harness/leftovers.js';

const ROOT = join(import.meta.dirname, '..', '..');

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  t.test(`${signal} to the bench: the backend, nginx, HAProxy and proxy processes it started stop`, { timeout: 85_000 }, async (t) => {
    const child = spawn(process.execPath, [
      '--import', import.meta.resolve('tsx'),
      join(ROOT, 'test', 'bench', 'run.ts'), '--quick', '--proxy=src', '--only=login,cpu',
    ], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    // Printed once every reference and the proxy are up, as the first phase begins.
    const deadline = Date.now() + 70_000;
    while (!err.includes('bench: login latency') && child.exitCode === null && Date.now() < deadline) await sleep(100);
    const dir = /bench: backend in (\S+)/.exec(err)?.[1] ?? '';
    t.ok(dir && err.includes('bench: login latency'), `the bench started everything\n${err.slice(-2000)}`);
    const started = descendants(child.pid!);
    const masters = await backendMasters(dir);
    t.teardown(() => killLeft(started, masters));
    t.equal(masters.length, 2, 'Dovecot and Postfix masters are running');
    t.ok(started.length >= 6, `the bench's own processes are running (${started.length})`);
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, s) => r(s)));
    child.kill(signal);
    t.equal(await exited, signal, `the bench ends by ${signal}`);
    t.same(await waitGone([...started, ...masters], masters, 15_000), [], 'nothing it started is left running');
    const until = Date.now() + 5000;
    while (existsSync(dir) && Date.now() < until) await sleep(100);
    t.notOk(existsSync(dir), 'the backend dir is removed');
  });
}
