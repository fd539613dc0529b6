// Allocation per login, as the young generation sees it: scavenges (V8's minor GCs, run when
// the new space fills up) per 10,000 hot logins, for one or more compiled proxies side by side
// against the fake backend. Fewer scavenges is less allocated per login; unlike CPU time it
// hardly moves with the machine's load, so it resolves cuts of a few objects per login.
// Usage: npm run build && node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs
//   test/bench/gc-per-login.ts N C ROUNDS CLI_JS [CLI_JS ...]    (N logins at C concurrent, per round and proxy)
import { readFileSync } from 'node:fs';
import { startWorld, startProxyProcess, LOGIN_USER } from './env.js';
import { proxyTarget, loginCycle, pool } from './imap-phases.js';
import { startFakeImapBackend } from './fake-imap-backend.js';

const N = Number(process.argv[2] ?? 10000);
const C = Number(process.argv[3] ?? 32);
const ROUNDS = Number(process.argv[4] ?? 3);
const clis = process.argv.slice(5);
if (clis.length === 0) throw new Error('give at least one compiled cli.js');
const world = await startWorld({ maxSessions: 64, mailboxBytes: 1024 });
const fake = await startFakeImapBackend(world.backend.dir);
const scavenges = (file: string): number => readFileSync(file, 'latin1').split('Scavenge').length - 1;
try {
  const proxies = [];
  for (const [i, cli] of clis.entries()) {
    proxies.push(await startProxyProcess(world, { build: 'dist', name: `gc${i}`, cli, nodeArgs: ['--trace-gc'], env: { DMS_IMAP_PORT: String(fake.port) } }));
  }
  const targets = proxies.map((p) => proxyTarget(world, p, LOGIN_USER, world.token));
  for (const t of targets) await pool(C, 3000, (i) => loginCycle(t, i).then(() => undefined)); // warm: JIT, token cache
  const per = clis.map(() => [] as number[]);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, p] of proxies.entries()) {
      const before = scavenges(p.logFile);
      await pool(C, N, (k) => loginCycle(targets[i]!, k).then(() => undefined));
      per[i]!.push(((scavenges(p.logFile) - before) * 10000) / N);
    }
  }
  for (const [i, cli] of clis.entries()) console.log(`${cli}: scavenges per 10,000 logins ${per[i]!.map((x) => x.toFixed(1)).join(' ')}`);
  for (const p of proxies) await p.stop();
} finally {
  fake.stop();
  await world.stop();
}
