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

const N = Number(process.argv[2] ?? 200);
const world = await startWorld({ maxSessions: 16, mailboxBytes: 1024 });
const m = world.backend.master;
const ir = plainIr(LOGIN_USER, m.user, m.password);
const ep = { port: world.backend.imapPort };
const full = '"x-originating-ip" "127.0.0.1" "x-originating-port" "40000" "x-connected-ip" "127.0.0.1" "x-connected-port" "10143" "x-session-ext-id" "bench-0123456789abcdef"';
const variants: Record<string, (w: Wire) => Promise<void>> = {
  none: async (w) => { await w.command('P3', `AUTHENTICATE PLAIN ${ir}`); },
  pipelined: async (w) => { w.write(`P2 ID (${full})\r\n`); await w.command('P3', `AUTHENTICATE PLAIN ${ir}`); },
  'ip-only': async (w) => { w.write('P2 ID ("x-originating-ip" "127.0.0.1")\r\n'); await w.command('P3', `AUTHENTICATE PLAIN ${ir}`); },
};
const times: Record<string, number[]> = { none: [], pipelined: [], 'ip-only': [], apart: [] };
try {
  for (let i = 0; i < N; i++) {
    for (const name of ['none', 'pipelined', 'ip-only', 'apart']) {
      const w = await Wire.connect(ep);
      await w.line('* ');
      let t0: number;
      if (name === 'apart') {
        await w.command('P2', `ID (${full})`);
        t0 = performance.now();
        await w.command('P3', `AUTHENTICATE PLAIN ${ir}`);
      } else {
        t0 = performance.now();
        await variants[name]!(w);
      }
      times[name]!.push(performance.now() - t0);
      w.write('L LOGOUT\r\n');
      await w.line('L ').catch(() => undefined);
      w.close();
    }
  }
  for (const [name, t] of Object.entries(times)) console.log(`${name.padEnd(10)} median ${median(t).toFixed(3)} ms over ${t.length}`);
} finally {
  await world.stop();
}
