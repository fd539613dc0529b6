// Adversary finding: behind a dual-stack balancer (HAProxy `bind :::993 v4v6`), an IPv4
// client arrives as an IPv4-mapped IPv6 address. PROXY v2 turned 203.0.113.7 into
// "::ffff:cb00:7107" and v1 kept "::ffff:203.0.113.7": the same client had another name
// than on a direct connection, in every log line Fail2Ban reads (an ip6tables ban of
// ::ffff:cb00:7107 never stops its IPv4 traffic), in the per-IP limits, and towards DMS.
// v1 also took zone ids ("fe80::1%eth0"), which then broke the
// PROXY v2 header towards DMS (every login of that client: UNAVAILABLE).
import t from 'tap';
import net from 'node:net';
import { parseProxyHeader, encodeProxyV2 } from '../../src/net/proxy-protocol.js';
import { listen } from '../../src/net/listen.js';
import type { Peer } from '../../src/net/peer.js';
import { parseNetworks } from '../../src/net/trusted-networks.js';
import { createLogger } from '../../src/observability/logger.js';

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
function v2Mapped(src: number[], dst: number[]): Buffer {
  const body = Buffer.alloc(36);
  Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...src]).copy(body, 0);
  Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...dst]).copy(body, 16);
  body.writeUInt16BE(5555, 32);
  body.writeUInt16BE(993, 34);
  return Buffer.concat([SIG, Buffer.from([0x21, 0x21, 0, 36]), body]);
}

function source(buf: Buffer): string | undefined {
  const r = parseProxyHeader(buf);
  return r.status === 'ok' ? r.header.source?.address : `error: ${r.status === 'error' ? r.reason : r.status}`;
}

t.test('an IPv4-mapped source is the plain IPv4 address, v1 and v2', async (t) => {
  t.equal(source(v2Mapped([203, 0, 113, 7], [10, 0, 0, 1])), '203.0.113.7', 'v2');
  t.equal(source(Buffer.from('PROXY TCP6 ::ffff:203.0.113.7 ::ffff:10.0.0.1 5555 993\r\n')), '203.0.113.7', 'v1');
});

t.test('v1: zone ids refused', async (t) => {
  t.match(source(Buffer.from('PROXY TCP6 fe80::1%eth0 ::1 5555 993\r\n')), /^error/);
});

t.test('what the listener hands on can be sent on to DMS as PROXY v2', async (t) => {
  const addr = source(Buffer.from('PROXY TCP6 0:0:0:0:0:0:0:1 ::1 5555 993\r\n'))!;
  t.doesNotThrow(() => encodeProxyV2({ address: addr, port: 5555 }, { address: '::1', port: 993 }));
});

t.test('a real listener behind a trusted balancer sees the IPv4 client as IPv4', async (t) => {
  const nets = parseNetworks('127.0.0.1/32');
  if (!nets.ok) throw new Error('bad networks');
  let got: Peer | undefined;
  let arrived!: () => void;
  const handed = new Promise<void>((r) => { arrived = r; });
  const l = await listen('test', { host: '127.0.0.1', port: 0 }, (socket, peer) => {
    got = peer;
    socket.destroy();
    arrived();
  }, { proxy: { trusted: nets.list, timeoutMs: 2000, log: createLogger('silent') }, faults: { log: createLogger('silent'), site: 'imap' } });
  t.teardown(() => l.close());
  const c = net.connect(l.address().port, '127.0.0.1');
  t.teardown(() => c.destroy());
  c.write(v2Mapped([198, 51, 100, 9], [192, 0, 2, 1]));
  await Promise.race([handed, new Promise((_, rej) => setTimeout(() => rej(new Error('not handed on')), 3000))]);
  t.equal(got?.address, '198.51.100.9');
  t.equal(got?.localAddress, '192.0.2.1');
});
