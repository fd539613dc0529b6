import { startWorld, startProxyProcess, LOGIN_USER } from './env.js';
import { concurrentLogins, proxyTarget } from './imap-phases.js';
const N = Number(process.env.N ?? 2000);
const world = await startWorld({ maxSessions: 300, mailboxBytes: 1048576 });
try {
  const p = await startProxyProcess(world, { build: 'dist', name: 'prof', nodeArgs: ['--cpu-prof', '--cpu-prof-dir=/tmp/nb-prof'] });
  const t = proxyTarget(world, p, LOGIN_USER, world.token);
  await concurrentLogins(t, 32, 300); // warm-up (also in the profile)
  const r = await concurrentLogins(t, 32, N, p.pid);
  process.stderr.write(`cpu per login ${r.cpuMsPerLogin!.toFixed(3)} ms, ${r.loginsPerS.toFixed(0)}/s, total logins ${N + 300}\n`);
  await p.stop();
} finally { await world.stop(); }
