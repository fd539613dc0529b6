// System calls per login, the proxy against the Node floors: `strace -c -f` attached to each
// process for N logins at C concurrent (root). Usage: npm run build &&
//   node --import tsx test/bench/syscalls-per-login.ts [N] [C]
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startWorld, startProxyProcess, LOGIN_USER } from './env.js';
import { directTarget, loginCycle, oauthTarget, pool, proxyTarget, type LoginTarget } from './imap-phases.js';
import { startForwarder } from './forwarder.js';
import { startLeanLogin } from './lean-login.js';

const N = Number(process.argv[2] ?? 500);
const C = Number(process.argv[3] ?? 8);
const world = await startWorld({ maxSessions: 64, mailboxBytes: 1024 });
try {
  const proxy = await startProxyProcess(world, { build: 'dist', name: 'sys' });
  const fw = await startForwarder(world.backend.imapPort, world.backend.dir);
  const lean = await startLeanLogin(world.backend.imapPort, world.backend.dir, world.backend.master, { [world.token]: LOGIN_USER });
  const pt = proxyTarget(world, proxy, LOGIN_USER, world.token);
  const targets: Array<[string, number, LoginTarget]> = [
    ['proxy', proxy.pid, pt],
    ['floor', fw.pid, { ep: { port: fw.port }, auth: directTarget(world, LOGIN_USER).auth }],
    ['lean', lean.pid, oauthTarget({ port: lean.port }, LOGIN_USER, world.token)],
  ];
  for (const [name, pid, t] of targets) {
    await pool(C, 300, (i) => loginCycle(t, i).then(() => undefined));
    const out = join(world.backend.dir, `strace-${name}.txt`);
    const st = spawn('strace', ['-c', '-f', '-o', out, '-p', String(pid)], { stdio: 'ignore' });
    await sleep(500);
    await pool(C, N, (i) => loginCycle(t, i).then(() => undefined));
    st.kill('SIGINT');
    await new Promise((r) => st.once('exit', r));
    const text = await readFile(out, 'utf8');
    const rows = text.split('\n').filter((l) => /^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+/.test(l)).map((l) => l.trim().split(/\s+/));
    const per = rows.map((r) => [r.at(-1)!, Number(r[3]) / N] as const).filter(([, n]) => n >= 0.05).sort((a, b) => b[1] - a[1]);
    console.log(`${name}: ${per.reduce((s, [, n]) => s + n, 0).toFixed(1)} syscalls per login: ${per.map(([s, n]) => `${s} ${n.toFixed(2)}`).join(', ')}`);
  }
  fw.stop(); lean.stop();
  await proxy.stop();
} finally {
  await world.stop();
}
