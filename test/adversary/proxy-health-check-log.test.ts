// Adversary finding: a load balancer's TCP health check (AWS NLB, HAProxy `check` without
// check-send-proxy, a Kubernetes tcpSocket probe from a node in the trusted range) connects
// and closes, or resets, without a byte. On a listener behind PROXY protocol each such check
// was logged at warn as `proxy-header-invalid` "bad PROXY protocol header": one warn line per
// check per balancer node per port (every few seconds, for ever), burying the lines operators
// and alerting look for (nginx's "broken header" complaint with NLB, here too). A connection
// that ended before sending anything carried no header at all, bad or good: it is a debug line.
// A header that is really broken, or never comes while the connection stays open, still warns.
import t from 'tap';
import net from 'node:net';
import { Writable } from 'node:stream';
import { listen } from '../../src/net/listen.js';
import { parseNetworks } from '../../src/net/trusted-networks.js';
import { createLogger } from '../../src/observability/logger.js';

const nets = parseNetworks('127.0.0.1/32');
if (!nets.ok) throw new Error('bad networks');

const lines: Array<{ level: number; event?: string }> = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, cb) {
    for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as { level: number; event?: string });
    cb();
  },
});
const log = createLogger('debug', sink);

let handed = 0;
const l = await listen('imap', { host: '127.0.0.1', port: 0 }, (socket) => {
  handed += 1;
  socket.destroy();
}, { proxy: { trusted: nets.list, timeoutMs: 800, log }, faults: { log, site: 'imap' } });
t.teardown(() => l.close());

function connected(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const c = net.connect(l.address().port, '127.0.0.1', () => resolve(c));
    c.on('error', reject);
  });
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const warnings = (): typeof lines => lines.filter((x) => x.level >= 40);

t.test('connect then close (FIN), no byte: no warn line', async (t) => {
  lines.length = 0;
  for (let i = 0; i < 3; i++) {
    const c = await connected();
    c.end();
    await new Promise((r) => c.once('close', r));
  }
  await settle(100);
  t.same(warnings(), [], 'a health check is not a bad header');
  t.equal(handed, 0, 'nothing reached a session');
});

t.test('connect then reset (RST), no byte: no warn line', async (t) => {
  lines.length = 0;
  for (let i = 0; i < 3; i++) {
    const c = await connected();
    c.on('error', () => undefined);
    c.resetAndDestroy();
  }
  await settle(200);
  t.same(warnings(), [], 'a health check that resets is not a bad header');
});

t.test('a broken header still warns', async (t) => {
  lines.length = 0;
  const c = await connected();
  c.on('error', () => undefined);
  c.write('PROXY TCP4 nonsense\r\n');
  await new Promise((r) => c.once('close', r));
  t.equal(warnings().filter((x) => x.event === 'proxy-header-invalid').length, 1);
});

t.test('a connection that stays open and never sends the header still warns at the timeout', async (t) => {
  lines.length = 0;
  const c = await connected();
  c.on('error', () => undefined);
  await new Promise((r) => c.once('close', r));
  t.equal(warnings().filter((x) => x.event === 'proxy-header-invalid').length, 1);
});
