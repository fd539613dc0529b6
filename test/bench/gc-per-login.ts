// Allocation per login: the bytes V8 reports allocated between its GCs (--trace-gc-nvp,
// `allocated=`), summed over N hot logins, and the scavenges (minor GCs) among them, for one
// or more compiled proxies side by side against the fake backend. Bytes are counted at each
// GC, so a round is off by at most what one GC cycle allocates (a few % at N = 10,000); the
// scavenge count also moves with V8's new-space sizing.
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
interface Gc { scavenges: number; bytes: number }
function gcs(file: string): Gc {
  let scavenges = 0;
  let bytes = 0;
  for (const line of readFileSync(file, 'latin1').split('\n')) {
    const at = line.indexOf(' allocated=');
    if (at === -1) continue;
    bytes += Number.parseInt(line.slice(at + 11), 10);
    if (line.includes(' gc=s ')) scavenges += 1;
  }
  return { scavenges, bytes };
}
try {
  const proxies = [];
  for (const [i, cli] of clis.entries()) {
    proxies.push(await startProxyProcess(world, { build: 'dist', name: `gc${i}`, cli, nodeArgs: ['--trace-gc-nvp'], env: { DMS_IMAP_PORT: String(fake.port) } }));
  }
  const targets = proxies.map((p) => proxyTarget(world, p, LOGIN_USER, world.token));
  for (const t of targets) await pool(C, 3000, (i) => loginCycle(t, i).then(() => undefined)); // warm: JIT, token cache
  const per = clis.map(() => [] as Gc[]);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, p] of proxies.entries()) {
      const before = gcs(p.logFile);
      await pool(C, N, (k) => loginCycle(targets[i]!, k).then(() => undefined));
      const after = gcs(p.logFile);
      per[i]!.push({ scavenges: ((after.scavenges - before.scavenges) * 10000) / N, bytes: (after.bytes - before.bytes) / N });
    }
  }
  for (const [i, cli] of clis.entries()) {
    const rounds = per[i]!;
    console.log(`${cli}: KiB allocated per login ${rounds.map((g) => (g.bytes / 1024).toFixed(2)).join(' ')}; scavenges per 10,000 logins ${rounds.map((g) => g.scavenges.toFixed(0)).join(' ')}`);
  }
  for (const p of proxies) await p.stop();
} finally {
  fake.stop();
  await world.stop();
}
