// The IMAP backend login (src/backend/imap-login.ts) against an in-process fake Dovecot line
// peer, to count what runs between Dovecot's greeting and the proxy's first command, and
// between Dovecot's tagged OK and the login's result (issue 21's two relay-only phases):
// promises, timers, immediates and nextTicks created and callbacks/promise reactions run
// (async_hooks, one login), and the time in µs
// (median, warm and the first logins cold). Same wire dialogue as Dovecot 2.3 with SASL-IR.
// Usage: node --import tsx test/bench/backend-login-turns.ts [LOGINS] [SRC_DIR]
//   SRC_DIR: a compiled build's src (e.g. /tmp/base/src) to A/B against; default this tree's src.
import net from 'node:net';
import { createHook } from 'node:async_hooks';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const LOGINS = Number(process.argv[2] ?? 2000);
const srcDir = process.argv[3] ? resolve(process.argv[3]) : join(import.meta.dirname, '..', '..', 'src');
const ext = process.argv[3] ? '.js' : '.ts';
const { imapBackendLogin } = await import(pathToFileURL(join(srcDir, 'backend', `imap-login${ext}`)).href) as typeof import('../../src/backend/imap-login.js');
const { backendTlsOptions } = await import(pathToFileURL(join(srcDir, 'backend', `dial${ext}`)).href) as typeof import('../../src/backend/dial.js');

const GREETING = '* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n';
const OK = 'P3 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES MOVE] Logged in\r\n';

// Stamps: the peer's greeting write, its first command read, its OK write; the login's result.
let greetingAt = 0, commandAt = 0, okAt = 0;
let counting: 'off' | 'greeting' | 'ok' = 'off';
const counts = { greeting: new Map<string, number>(), ok: new Map<string, number>() };
// Created: init of each type; run: each callback or promise reaction (`before`) by type.
const types = new Map<number, string>();
const bump = (m: Map<string, number>, k: string): void => { m.set(k, (m.get(k) ?? 0) + 1); };
const hook = createHook({
  init(id, type) {
    types.set(id, type);
    if (counting !== 'off') bump(counts[counting], `new ${type}`);
  },
  before(id) {
    if (counting !== 'off') bump(counts[counting], `run ${types.get(id) ?? '?'}`);
  },
});

const server = net.createServer({ noDelay: true }, (s) => {
  let buf = '';
  let state: 'id' | 'auth' | 'done' = 'id';
  s.on('data', (chunk: Buffer) => {
    if (!commandAt) { commandAt = performance.now(); counting = 'off'; }
    buf += chunk.toString('latin1');
    for (let lf = buf.indexOf('\n'); lf >= 0; lf = buf.indexOf('\n')) {
      const line = buf.slice(0, lf);
      buf = buf.slice(lf + 1);
      if (state === 'id' && line.startsWith('P2 ID')) { s.write('* ID NIL\r\nP2 OK ID completed.\r\n'); state = 'auth'; }
      else if (state === 'auth' && line.startsWith('P3 AUTHENTICATE')) {
        state = 'done';
        // Dovecot answers the login after its auth round trip: a separate read for the proxy.
        setTimeout(() => { okAt = performance.now(); s.write(OK); counting = countMode ? 'ok' : 'off'; }, 1);
      }
    }
  });
  s.on('error', () => undefined);
  // Dovecot greets after its imap-login process is up (7-10 ms): the connect is long done.
  setTimeout(() => {
    greetingAt = performance.now();
    s.write(GREETING);
    counting = countMode ? 'greeting' : 'off';
  }, 1);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as net.AddressInfo).port;

const target = { host: '127.0.0.1', port, tls: 'none' as const, tlsOptions: backendTlsOptions({ tlsVerify: false, caFile: null, servername: 'localhost' }), timeoutMs: 5000, proxyProtocol: false };
const client = { address: '192.0.2.7', port: 51234, localAddress: '127.0.0.1', localPort: 143, tls: false };
const req = {
  credentials: { kind: 'master' as const, user: 'alice@example.test', masterUser: 'proxy', masterPassword: 'master-secret' },
  client,
  idFields: [['x-originating-ip', '192.0.2.7'], ['x-originating-port', '51234'], ['x-connected-ip', '127.0.0.1'], ['x-connected-port', '143'], ['x-session-ext-id', 'abcdefgh']] as Array<[string, string]>,
};

let countMode = false;
async function one(): Promise<{ first: number; ok: number }> {
  greetingAt = commandAt = okAt = 0;
  const r = await imapBackendLogin(target, req);
  const done = performance.now();
  counting = 'off';
  if (!r.ok) throw new Error(`login failed: ${r.reason}`);
  r.socket.destroy();
  return { first: commandAt - greetingAt, ok: done - okAt };
}

const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const us = (ms: number): string => `${(ms * 1000).toFixed(1)} µs`;
try {
  const cold: Array<{ first: number; ok: number }> = [];
  for (let i = 0; i < 20; i++) cold.push(await one());
  for (let i = 0; i < LOGINS; i++) await one(); // warm-up
  const warm: Array<{ first: number; ok: number }> = [];
  for (let i = 0; i < LOGINS; i++) warm.push(await one());
  hook.enable(); // only now: promise hooks slow every promise
  countMode = true;
  await one();
  countMode = false;
  hook.disable();
  const fmt = (m: Map<string, number>): string => [...m].map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  console.log(`greeting → first command: cold (first 20) median ${us(med(cold.map((x) => x.first)))}, warm median of ${LOGINS} ${us(med(warm.map((x) => x.first)))}; created: ${fmt(counts.greeting)}`);
  console.log(`tagged OK → login result:  cold (first 20) median ${us(med(cold.map((x) => x.ok)))}, warm median of ${LOGINS} ${us(med(warm.map((x) => x.ok)))}; created: ${fmt(counts.ok)}`);
} finally {
  server.close();
}
