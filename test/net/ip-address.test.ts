// An IPv4 client behind an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2) is one client
// whichever way the address is spelt and whichever door it came in by: the socket's peer, a
// trusted-network match, the per-IP limit key, and a PROXY v1 or v2 header all give the plain
// IPv4 address.
import t from 'tap';
import { mappedIpv4, unmapIpv4 } from '../../src/net/ip-address.js';
import { plainAddress } from '../../src/net/peer.js';
import { clientKey } from '../../src/net/client-key.js';
import { isTrusted, parseNetworks } from '../../src/net/trusted-networks.js';
import { encodeProxyV2, parseProxyHeader } from '../../src/net/proxy-protocol.js';

const SPELLINGS = ['::ffff:192.0.2.7', '::FFFF:192.0.2.7', '::ffff:c000:207', '0:0:0:0:0:ffff:c000:0207', '::ffff:192.0.2.7%eth0'];

t.test('unmapIpv4: every spelling of a mapped address, and nothing else', async (t) => {
  for (const a of SPELLINGS) t.equal(unmapIpv4(a), '192.0.2.7', a);
  for (const a of ['192.0.2.7', '2001:db8::1', '::1', '::192.0.2.7', '::ffff:0:192.0.2.7', 'unknown', '']) t.equal(unmapIpv4(a), a, `${a} as given`);
  t.equal(mappedIpv4([0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0207]), '192.0.2.7');
  t.equal(mappedIpv4([0, 0, 0, 0, 1, 0xffff, 0xc000, 0x0207]), undefined);
});

t.test('the peer, the trusted networks and the limit key agree on every spelling', async (t) => {
  const parsed = parseNetworks('192.0.2.0/24');
  if (!parsed.ok) throw new Error('networks');
  for (const a of SPELLINGS) {
    t.equal(plainAddress(a), '192.0.2.7', `peer ${a}`);
    t.ok(isTrusted(parsed.list, a), `trusted ${a}`);
    t.equal(clientKey(a, 64), '192.0.2.7', `limit key ${a}`);
  }
});

t.test('PROXY v1 TCP6 and v2 carry a mapped client as plain IPv4', async (t) => {
  const v1 = parseProxyHeader(Buffer.from('PROXY TCP6 ::ffff:c000:207 ::ffff:198.51.100.1 4000 143\r\n'));
  t.same(v1.status === 'ok' && [v1.header.source?.address, v1.header.destination?.address], ['192.0.2.7', '198.51.100.1']);
  const v2 = parseProxyHeader(encodeProxyV2({ address: '::ffff:192.0.2.7', port: 4000 }, { address: '2001:db8::1', port: 143 }));
  t.same(v2.status === 'ok' && [v2.header.source?.address, v2.header.destination?.address], ['192.0.2.7', '2001:db8::1']);
});
