// Session ids: short, random, never repeated, including across refills of their pool.
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { newSessionId, peerOf, plainAddress, SocketPeer } from '../../src/net/peer.js';

t.test('session ids are 12 base64url characters and do not repeat across pool refills', async (t) => {
  const seen = new Set<string>();
  const n = 5000; // the pool holds 512 ids: this crosses ~10 refills
  for (let i = 0; i < n; i++) seen.add(newSessionId());
  t.equal(seen.size, n, 'all distinct');
  for (const id of [...seen].slice(0, 50)) t.match(id, /^[A-Za-z0-9_-]{12}$/);
  // Not a constant or a counter: the bytes vary (72 bits of randomness per id).
  const firstChars = new Set([...seen].map((id) => id[0]));
  t.ok(firstChars.size > 32, `first characters spread (${firstChars.size} of 64)`);
});

t.test('IPv4-mapped addresses are shown as plain IPv4', async (t) => {
  t.equal(plainAddress('::ffff:192.0.2.7'), '192.0.2.7');
  t.equal(plainAddress('2001:db8::1'), '2001:db8::1');
  t.equal(plainAddress(undefined), 'unknown');
});

t.test('a SocketPeer reads the ends peerOf reads; a spread copies neither its socket nor its local end', async (t) => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  t.teardown(() => client.destroy());
  const [socket] = await accepted;
  t.teardown(() => socket.destroy());
  const peer = new SocketPeer(socket);
  const spread = { ...peer } as Record<string, unknown>;
  t.strictSame(spread, { address: '127.0.0.1', port: client.localPort }, 'own fields: the remote end only (no socket, no local end)');
  t.strictSame({ address: peer.address, port: peer.port, localAddress: peer.localAddress, localPort: peer.localPort }, peerOf(socket), 'field by field: both ends, as peerOf');
});
