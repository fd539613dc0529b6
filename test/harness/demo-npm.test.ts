// `npm run demo` exactly as the README has users type it. npm runs its script through a shell
// (`sh -c 'npm run --silent build && node dist/test/harness/demo.js'`): a signal npm passes on
// reached that shell, which died of it without passing it to node, and node, its proxy ports,
// Dovecot and Postfix ran on, orphaned. Each case builds first (what the script does), so there
// are two: npm alone signalled (a supervisor or `kill` of the command the user started), and
// npm and the demo's node together (`pkill -f demo`).
import t from 'tap';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnDemo } from './demo-process.js';
import { backendMasters, killLeft, portsFree, waitGone } from './leftovers.js';

for (const both of [false, true]) {
  t.test(`npm run demo: SIGTERM to npm${both ? ' and the demo\'s node at once' : ' only'} stops everything`, async (t) => {
    const demo = await spawnDemo(['npm'], 150_000);
    t.teardown(() => demo.kill());
    t.teardown(() => { try { process.kill(demo.nodePid, 'SIGKILL'); } catch { /* gone */ } });
    const masters = await backendMasters(demo.dir);
    t.teardown(() => killLeft(masters, masters));
    t.equal(masters.length, 2, 'Dovecot and Postfix masters are running');
    process.kill(demo.pid, 'SIGTERM');
    if (both) process.kill(demo.nodePid, 'SIGTERM');
    t.ok(await demo.exited(20_000), 'npm ends');
    t.same(await waitGone([demo.nodePid, ...masters], masters, 10_000), [], 'the demo\'s node, the masters and their process groups are gone');
    t.ok(await portsFree(demo.ports, 5000), `ports free: ${demo.ports.join(', ')}`);
    const until = Date.now() + 5000;
    while (existsSync(demo.dir) && Date.now() < until) await sleep(100);
    t.notOk(existsSync(demo.dir), 'the demo\'s temp dir is removed');
  });
}
