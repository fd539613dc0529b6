// The PROXY v2 header the proxy sends DMS says whether the client used TLS: Dovecot 2.4 counts
// a plaintext leg from login_trusted_networks as insecure (ssl = required refuses it) unless
// the header's PP2_TYPE_SSL TLV has PP2_CLIENT_SSL set (HAProxy proxy-protocol.txt §2.2.5).
import t from 'tap';
import { originatingIdFields, proxyHeaderFor } from '../../src/backend/client-address.js';
import { parseProxyHeader } from '../../src/net/proxy-protocol.js';

const client = { address: '203.0.113.7', port: 40001, localAddress: '127.0.0.1', localPort: 993 };

t.test('a TLS client: the header ends in an SSL TLV with the client-used-SSL bit', async (t) => {
  const h = proxyHeaderFor({ ...client, tls: true });
  t.equal(h.readUInt16BE(14), 12 + 8, 'IPv4 addresses, then one 8-byte TLV');
  t.same([...h.subarray(28, 32)], [0x20, 0x00, 0x05, 0x01], 'PP2_TYPE_SSL, length 5, PP2_CLIENT_SSL');
  t.same([...h.subarray(32, 36)], [0, 0, 0, 0], 'verify = 0');
  t.match(parseProxyHeader(h), { status: 'ok', header: { source: { address: '203.0.113.7', port: 40001 } } });
});

t.test('a plaintext client: no TLV, so Dovecot does not take the leg as secured', async (t) => {
  const h = proxyHeaderFor({ ...client, tls: false });
  t.equal(h.readUInt16BE(14), 12);
  t.equal(h.length, 28);
});

t.test('an IPv6 client of an IPv4 listener: the destination falls back to ::, the TLV stays', async (t) => {
  const h = proxyHeaderFor({ ...client, address: '2001:db8::1', tls: true });
  t.equal(h[13], 0x21, 'TCP over IPv6');
  t.equal(h.readUInt16BE(14), 36 + 8);
  t.equal(h[16 + 36], 0x20);
});

t.test('ID fields: a port of 0 (unknown) is left out, since Dovecot 2.4 refuses the whole ID for it', async (t) => {
  t.same(originatingIdFields(client), [
    ['x-originating-ip', '203.0.113.7'], ['x-originating-port', '40001'], ['x-connected-ip', '127.0.0.1'], ['x-connected-port', '993'],
  ]);
  t.same(originatingIdFields({ ...client, port: 0, localPort: 0 }), [['x-originating-ip', '203.0.113.7'], ['x-connected-ip', '127.0.0.1']]);
});
