// npm run demo (the README's quick start) starts Dovecot and Postfix, daemons that nothing takes
// down with the demo but the demo itself. However the demo ends, Ctrl-C, a SIGTERM, a closed
// terminal, a second signal during the clean-up or SIGKILL, nothing of it may be left: no
// daemon of this run, no port held, no temp dir. The demo runs here as its own process from
// src/ (demo-npm.test.ts runs the npm command itself); its daemons are found by the pid files
// in its backend's dir, never by name.
import t from 'tap';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnDemo } from './demo-process.js';
import { backendMasters, killLeft, portsFree, waitGone } from './leftovers.js';

const CASES: Array<{ name: string; send: (pid: number) => Promise<void> }> = [
  { name: 'SIGTERM to the demo process', send: async (pid) => { process.kill(pid, 'SIGTERM'); } },
  // What Ctrl-C does: SIGINT to the terminal's foreground process group.
  { name: 'SIGINT to its process group (Ctrl-C)', send: async (pid) => { process.kill(-pid, 'SIGINT'); } },
  { name: 'SIGHUP (the terminal closed)', send: async (pid) => { process.kill(pid, 'SIGHUP'); } },
  // The second one comes while the first one's clean-up runs, as an impatient second Ctrl-C does.
  {
    name: 'SIGTERM twice',
    send: async (pid) => {
      process.kill(pid, 'SIGTERM');
      await sleep(150);
      try { process.kill(pid, 'SIGTERM'); } catch { /* it ended already: as good */ }
    },
  },
  { name: 'SIGKILL', send: async (pid) => { process.kill(pid, 'SIGKILL'); } },
];

for (const c of CASES) {
  t.test(`demo: ${c.name} stops its Dovecot and Postfix and frees its ports`, async (t) => {
    const demo = await spawnDemo(['node']);
    t.teardown(() => demo.kill());
    const masters = await backendMasters(demo.dir);
    t.teardown(() => killLeft(masters, masters));
    t.equal(masters.length, 2, 'Dovecot and Postfix masters are running');
    await c.send(demo.pid);
    t.ok(await demo.exited(20_000), 'the demo process ends');
    t.same(await waitGone(masters, masters, 10_000), [], 'no master, and nothing in their process groups, left running');
    t.ok(await portsFree(demo.ports, 5000), `ports free: ${demo.ports.join(', ')}`);
    const until = Date.now() + 5000;
    while (existsSync(demo.dir) && Date.now() < until) await sleep(100);
    t.notOk(existsSync(demo.dir), 'the demo\'s temp dir is removed');
  });
}
