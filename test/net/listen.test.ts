// The listener's hand-over contract (src/net/listen.ts): every socket reaches the session
// paused, whether a PROXY header was read from it or not, with the bytes that followed the
// header first in line. Before, a direct socket was handed on fresh (it flowed as soon as a
// 'data' listener came) and a PROXY one paused (it never did): the IMAP session on 143
// heard nothing behind a balancer.
// And a listener whose connection handler throws (issue 16): that connection is closed and
// the fault counted; the listener keeps accepting and nothing reaches the process.
import t from 'tap';
import net from 'node:net';
import { listen, type Listener } from '../../src/net/listen.js';
import type { Peer } from '../../src/net/peer.js';
import { parseNetworks } from '../../src/net/trusted-networks.js';
import { encodeProxyV2 } from '../../src/net/proxy-protocol.js';
import { createLogger } from '../../src/observability/logger.js';
import { metrics } from '../../src/observability/metrics.js';
import { recordCrashes } from '../reliability/fakes/leaks.js';

const parsed = parseNetworks('127.0.0.2/32');
if (!parsed.ok) throw new Error('bad test networks');
const accepted: Array<{ socket: net.Socket; peer: Peer; pausedAtHandOver: boolean }> = [];
let arrived: () => void = () => undefined;
const listener: Listener = await listen('test', { host: '127.0.0.1', port: 0 }, (socket, peer) => {
  accepted.push({ socket, peer, pausedAtHandOver: socket.isPaused() });
  arrived();
}, { proxy: { trusted: parsed.list, timeoutMs: 2000, log: createLogger('silent') }, faults: { log: createLogger('silent'), site: 'imap' } });
t.teardown(() => listener.close());

async function connectAndSend(from: string, bytes: Buffer): Promise<{ socket: net.Socket; peer: Peer; pausedAtHandOver: boolean; client: net.Socket }> {
  const got = new Promise<void>((resolve) => { arrived = resolve; });
  const client = net.connect({ host: '127.0.0.1', port: listener.address().port, localAddress: from });
  t.teardown(() => client.destroy());
  client.write(bytes);
  await Promise.race([got, new Promise((_, reject) => setTimeout(() => reject(new Error('not handed on within 2 s')), 2000))]);
  const a = accepted.at(-1)!;
  t.teardown(() => a.socket.destroy());
  return { ...a, client };
}

/** What a session reads once it starts: a 'data' listener and resume(), bounded. */
function readAfterStart(socket: net.Socket, want: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => reject(new Error(`read ${JSON.stringify(got)} only`)), 2000);
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.length >= want) { clearTimeout(timer); resolve(got); }
    });
    socket.resume();
  });
}

t.test('direct client: handed on paused, nothing lost', async (t) => {
  const a = await connectAndSend('127.0.0.1', Buffer.from('a CAPABILITY\r\n'));
  t.ok(a.pausedAtHandOver, 'paused at hand-over');
  t.equal(a.peer.address, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 50)); // the bytes are there, and nothing reads them
  t.equal(await readAfterStart(a.socket, 14), 'a CAPABILITY\r\n');
});

// The local end of a direct client is read after the handler ran (a plaintext greeting goes
// out before that system call), yet before the listener returns: it is known to the session
// even once the socket is gone, when the system call would no longer answer.
t.test('no PROXY protocol: the local end is read right after the handler, and kept', async (t) => {
  let handed: ((x: { socket: net.Socket; peer: Peer }) => void) | null = null;
  const got = new Promise<{ socket: net.Socket; peer: Peer }>((resolve) => { handed = resolve; });
  const plain = await listen('plain', { host: '127.0.0.1', port: 0 }, (socket, peer) => handed!({ socket, peer }), { faults: { log: createLogger('silent'), site: 'imap' } });
  t.teardown(() => plain.close());
  const client = net.connect({ host: '127.0.0.1', port: plain.address().port });
  t.teardown(() => client.destroy());
  const a = await Promise.race([got, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('not handed on within 2 s')), 2000))]);
  await new Promise((r) => client.once('connect', r));
  a.socket.destroy();
  await new Promise((r) => a.socket.once('close', r));
  t.equal(a.peer.address, '127.0.0.1');
  t.equal(a.peer.port, client.localPort);
  t.equal(a.peer.localAddress, '127.0.0.1');
  t.equal(a.peer.localPort, plain.address().port);
});

for (const [name, header] of [
  ['v1', Buffer.from('PROXY TCP4 203.0.113.7 127.0.0.1 40000 143\r\n')],
  ['v2', encodeProxyV2({ address: '203.0.113.7', port: 40000 }, { address: '127.0.0.1', port: 143 })],
] as const) {
  t.test(`PROXY ${name}, header and command in one write: handed on paused, the command first in line`, async (t) => {
    const a = await connectAndSend('127.0.0.2', Buffer.concat([header, Buffer.from('a CAPABILITY\r\n')]));
    t.ok(a.pausedAtHandOver, 'paused at hand-over, as a direct socket');
    t.equal(a.peer.address, '203.0.113.7', 'the announced client');
    t.equal(await readAfterStart(a.socket, 14), 'a CAPABILITY\r\n');
  });

  t.test(`PROXY ${name}, header alone, command later: read once the session starts`, async (t) => {
    const a = await connectAndSend('127.0.0.2', header);
    t.ok(a.pausedAtHandOver);
    const reading = readAfterStart(a.socket, 14);
    a.client.write('a CAPABILITY\r\n');
    t.equal(await reading, 'a CAPABILITY\r\n');
  });
}

const crashes = recordCrashes();
t.teardown(() => crashes.dispose());
const faults = async (): Promise<number> => (await metrics.internalErrors?.get())?.values.find((v) => v.labels.listener === 'imap')?.value ?? 0;

t.test('a throw in the connection handler closes that connection only', async (t) => {
  let n = 0;
  const l = await listen('test', { host: '127.0.0.1', port: 0 }, (socket) => {
    n += 1;
    if (n === 1) throw new Error('injected: accept');
    socket.resume(); // handed on paused: the callee starts reading (and so sees the client's FIN)
    socket.end('hello\r\n');
  }, { faults: { log: createLogger('silent'), site: 'imap' } });
  t.teardown(() => l.close());
  const before = await faults();
  const talk = () => new Promise<string>((resolve) => {
    const c = net.connect(l.address().port, '127.0.0.1');
    let got = '';
    c.on('data', (d: Buffer) => { got += d.toString(); });
    c.on('error', () => undefined);
    c.on('close', () => resolve(got));
    setTimeout(() => { c.destroy(); resolve(`${got}(still open)`); }, 3000).unref();
  });
  t.equal(await talk(), '', 'the faulty connection is closed without a word');
  t.equal(await faults(), before + 1, 'counted');
  t.equal(await talk(), 'hello\r\n', 'the next connection is served');
  t.equal(crashes.describe(), '', 'nothing reached the process');
});
