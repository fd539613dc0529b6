// Bytes the proxy allocates on V8's heap per login (login + LOGOUT through the splice, 32
// concurrent, against fake-imap-backend.ts), from --trace-gc-nvp's `allocated=` per GC, and
// scavenges per 1,000 logins. Unlike CPU time this hardly moves with machine load, so it
// shows a cut in per-login objects on a shared machine (issue 21). Builds measured one
// after the other, each warm first.
// Usage: npm run build && node --import tsx test/bench/alloc-per-login.ts [LOGINS] [CLI_JS...]
import { join } from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { startWorld, startProxyProcess, LOGIN_USER } from './env.js';
import { loginCycle, pool, proxyTarget } from './imap-phases.js';
import { startFakeImapBackend } from './fake-imap-backend.js';

const N = Number(process.argv[2] ?? 10_000);
const clis = process.argv.length > 3 ? process.argv.slice(3) : [join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli.js')];
const world = await startWorld({ maxSessions: 64, mailboxBytes: 1024 });
const fake = await startFakeImapBackend(world.backend.dir);
try {
  for (const [k, cli] of clis.entries()) {
    const proxy = await startProxyProcess(world, { build: 'dist', name: `alloc-${k}`, cli, env: { DMS_IMAP_PORT: String(fake.port) }, nodeArgs: ['--trace-gc-nvp'] });
    try {
      const target = proxyTarget(world, proxy, LOGIN_USER, world.token);
      await pool(32, 5000, (i) => loginCycle(target, i).then(() => undefined)); // warm: JIT, token cache
      await sleep(300); // the last sessions' end lines and bookkeeping
      const from = statSync(proxy.logFile).size;
      await pool(32, N, (i) => loginCycle(target, i).then(() => undefined));
      await sleep(300);
      const text = readFileSync(proxy.logFile, 'latin1').slice(from);
      // Between the window's first and last GC: what was allocated (each GC's `allocated=` is
      // since the one before) over the logins logged meanwhile (pino's batching moves a line
      // by ~100 ms at most).
      let allocated = 0;
      let gcs = 0;
      let scavenges = 0;
      let logins = 0;
      let loginsSoFar = 0;
      for (const line of text.split('\n')) {
        if (line.includes('"event":"login"')) { loginsSoFar += 1; continue; }
        const m = / gc=(\w+) .*? allocated=(\d+)/.exec(line);
        if (!m) continue;
        if (gcs > 0) {
          allocated += Number(m[2]);
          logins = loginsSoFar;
          if (m[1] === 's') scavenges += 1;
        } else {
          loginsSoFar = 0;
        }
        gcs += 1;
      }
      console.log(`${cli}: ${(allocated / logins).toFixed(0)} bytes allocated per login, ${(scavenges * 1000 / logins).toFixed(2)} scavenges per 1,000 logins (${logins} logins between ${gcs} GCs)`);
    } finally {
      await proxy.stop();
    }
  }
} finally {
  fake.stop();
  await world.stop();
}
