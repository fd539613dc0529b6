// What the ID command (RFC 2971) that the proxy sends before its master login costs Dovecot:
// the login-phase table shows "credentials complete → Dovecot tagged OK" longer for every
// target that sends ID (the proxy, the lean login) than for those that do not (a direct
// client, nginx). Direct logins to the bench's Dovecot, variants interleaved, median of N:
//   none:      AUTHENTICATE PLAIN (master) alone
//   pipelined: ID (the proxy's fields) and AUTHENTICATE in one write, as the proxy sends them
//   apart:     ID answered first, then AUTHENTICATE timed alone
//   ip-only:   ID with x-originating-ip alone, pipelined
// Usage: node --import tsx test/bench/id-cost.ts [N]
import { startWorld, LOGIN_USER } from './env.js';
import { plainIr, Wire } from './wire.js';
import { median } from './table.js';
import { imapIdLine } from '../../src/backend/imap-id.js';

const N = Number(process.argv[2] ?? 200);
const world = await startWorld({ maxSessions: 16, mailboxBytes: 1024 });
const m = world.backend.master;
const auth = `AUTHENTICATE PLAIN ${plainIr(LOGIN_USER, m.user, m.password)}`;
const ep = { port: world.backend.imapPort };
// The line the proxy sends (src/backend/imap-id.ts), for a client of this machine.
const client = { address: '127.0.0.1', port: 40000, localAddress: '127.0.0.1', localPort: 10143, tls: false, sessionId: 'bench-0123456789abcdef' };
const full = imapIdLine(client, false); // `P2 ID (...)`
const ipOnly = 'P2 ID ("x-originating-ip" "127.0.0.1")';
/** Each variant runs on a greeted connection and returns the ms it timed. */
const variants: Record<string, (w: Wire) => Promise<number>> = {
  none: (w) => timed(() => w.command('P3', auth)),
  pipelined: (w) => timed(() => { w.write(`${full}\r\n`); return w.command('P3', auth); }),
  'ip-only': (w) => timed(() => { w.write(`${ipOnly}\r\n`); return w.command('P3', auth); }),
  apart: async (w) => { await w.command('P2', full.slice('P2 '.length)); return timed(() => w.command('P3', auth)); },
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));

async function timed(run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

try {
  for (let i = 0; i < N; i++) {
    for (const [name, run] of Object.entries(variants)) {
      const w = await Wire.connect(ep);
      await w.line('* ');
      times[name]!.push(await run(w));
      w.write('L LOGOUT\r\n');
      await w.line('L ').catch(() => undefined);
      w.close();
    }
  }
  for (const [name, t] of Object.entries(times)) console.log(`${name.padEnd(10)} median ${median(t).toFixed(3)} ms over ${t.length}`);
} finally {
  await world.stop();
}
