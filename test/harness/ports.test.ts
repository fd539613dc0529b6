// freePorts picks ports for daemons that bind them seconds later: never in the kernel's
// ephemeral range (where outgoing connections of tests running beside it take ports), and
// never the same port to two callers while the first one's daemon may still be starting, in
// one process or in two. (200 random picks each from ~12,700 ports would share about three.)
import t from 'tap';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { freePorts } from './ports.js';

const ephemeralLow = Number.parseInt(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]!, 10);

t.test('picks lie below the ephemeral range and are distinct across concurrent calls', async (t) => {
  const picks = (await Promise.all(Array.from({ length: 8 }, () => freePorts(14)))).flat();
  t.equal(picks.length, 112);
  t.equal(new Set(picks).size, picks.length, 'no port handed out twice');
  t.ok(picks.every((p) => p >= 1024 && p < ephemeralLow), `all below ${ephemeralLow}`);
});

t.test('ports another process picked, not yet bound by its daemons, are not handed out again', async (t) => {
  const script = `import('${new URL('./ports.ts', import.meta.url).href}').then(async (m) => console.log(JSON.stringify(await m.freePorts(200))))`;
  const other = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), '-e', script], { encoding: 'utf8', timeout: 60_000 });
  t.equal(other.status, 0, other.stderr);
  const theirs = JSON.parse(other.stdout) as number[];
  const mine = await freePorts(200);
  t.equal(theirs.filter((p) => mine.includes(p)).length, 0, 'reservations keep the two apart');
});
