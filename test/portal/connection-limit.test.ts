// The portal's per-client connection limit (MAX_CONNECTIONS_PER_IP, counted apart from the
// mail ports'): a client past its share gets its connection closed at accept, with nothing
// served and one `connection-refused` line; other clients are served meanwhile; a closed
// connection gives its slot back (open N, close them, open N again); behind a trusted
// balancer the PROXY header's address is the one counted, not the balancer's.
import t, { type Test } from 'tap';
import net from 'node:net';
import tls from 'node:tls';
import { parseNetworks } from '../../src/net/trusted-networks.js';
import type { ProxyProtocolIn } from '../../src/net/listen.js';
import { captureLog, startTestPortal } from '../harness/portal-listener.js';
import { eventually } from '../harness/proxy.js';

const PER_IP = 3;
const { log, lines } = captureLog();
const refusals = (): Array<Record<string, unknown>> => lines.filter((l) => l.event === 'connection-refused');

/** A portal on its own port with PER_IP connections a client; GET / (signed out) is all it serves here. */
async function portal(t: Test, proxyIn: ProxyProtocolIn | null) {
  const { port, connections } = await startTestPortal(t, { log }, { maxConnectionsPerIp: PER_IP, proxyIn });
  return { port, connections };
}

/** An idle TCP connection from `from` (optionally with a PROXY v1 header naming `client`), once connected. */
async function idle(t: Test, port: number, from: string, client?: string): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port, localAddress: from });
  s.on('error', () => undefined);
  t.teardown(() => s.destroy());
  await new Promise((r) => s.once('connect', r));
  if (client) s.write(`PROXY TCP4 ${client} 127.0.0.1 40000 443\r\n`);
  return s;
}

/** Whether the server closed `s` within `ms`, and whether it sent anything first. */
function closedByServer(s: net.Socket, ms: number): Promise<{ closed: boolean; bytes: number }> {
  let bytes = 0;
  s.on('data', (d: Buffer) => { bytes += d.length; });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ closed: false, bytes }), ms);
    s.once('close', () => { clearTimeout(timer); resolve({ closed: true, bytes }); });
  });
}

/** GET / over TLS from `from` (after a PROXY header naming `client`, if given): the status, or what went wrong. */
async function getFrom(t: Test, port: number, from: string, client?: string): Promise<number | string> {
  const raw = await idle(t, port, from, client);
  return new Promise((resolve) => {
    const s = tls.connect({ socket: raw, rejectUnauthorized: false, servername: 'localhost' });
    let data = '';
    const timer = setTimeout(() => { s.destroy(); resolve('timeout'); }, 5000);
    s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: portal.example.test\r\nConnection: close\r\n\r\n'));
    s.on('data', (d: Buffer) => { data += d.toString('latin1'); });
    s.on('error', (e: NodeJS.ErrnoException) => { clearTimeout(timer); resolve(e.code ?? e.message); });
    s.on('close', () => { clearTimeout(timer); resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1]) || `closed: ${data.slice(0, 40)}`); });
  });
}

t.test('a client past its share is closed at accept; others are served; closing gives the slots back', async (t) => {
  const { port, connections } = await portal(t, null);
  const before = refusals().length;
  const held = await Promise.all(Array.from({ length: PER_IP }, () => idle(t, port, '127.0.0.1')));
  await eventually(() => connections.stats().total === PER_IP, 2000, 'the client\'s connections counted');
  const over = await closedByServer(await idle(t, port, '127.0.0.1'), 2000);
  t.same(over, { closed: true, bytes: 0 }, 'one more from that client is closed, nothing served');
  t.equal(refusals().length - before, 1, 'one connection-refused line, as the mail ports log it');
  t.match(refusals().at(-1), { client: '127.0.0.1', reason: 'per-ip' });
  t.equal(connections.stats().total, PER_IP, 'the refused connection was never counted');
  t.equal(await getFrom(t, port, '127.0.0.2'), 200, 'another client is served meanwhile');

  for (const s of held) s.destroy();
  await eventually(() => connections.stats().total === 0, 2000, 'every slot given back');
  t.same(connections.stats(), { total: 0, preauth: 0, ips: 0 }, 'no count left behind');
  const again = await Promise.all(Array.from({ length: PER_IP }, () => idle(t, port, '127.0.0.1')));
  const kept = await Promise.all(again.map((s) => closedByServer(s, 300)));
  t.ok(kept.every((k) => !k.closed), `the same client holds ${PER_IP} again`);
  t.equal(connections.stats().total, PER_IP);
  for (const s of again) s.destroy();
  await eventually(() => connections.stats().total === 0, 2000, 'given back again');
  t.equal(await getFrom(t, port, '127.0.0.1'), 200, 'and is served');
});

t.test('behind a trusted balancer the PROXY header\'s client is counted, not the balancer', async (t) => {
  const trusted = parseNetworks('127.0.0.0/8');
  if (!trusted.ok) throw new Error(trusted.errors.join('; '));
  const { port, connections } = await portal(t, { trusted: trusted.list, timeoutMs: 2000, log });
  const before = refusals().length;
  await Promise.all(Array.from({ length: PER_IP }, () => idle(t, port, '127.0.0.1', '203.0.113.7')));
  await eventually(() => connections.stats().total === PER_IP, 2000, 'the client\'s connections counted');
  const over = await closedByServer(await idle(t, port, '127.0.0.1', '203.0.113.7'), 2000);
  t.same(over, { closed: true, bytes: 0 }, 'that client\'s next connection is closed');
  t.equal(refusals().length - before, 1, 'one line');
  t.match(refusals().slice(before), [{ client: '203.0.113.7', reason: 'per-ip' }], 'logged by the client\'s address');
  t.equal(await getFrom(t, port, '127.0.0.1', '203.0.113.8'), 200, 'another client through the same balancer is served');
});
