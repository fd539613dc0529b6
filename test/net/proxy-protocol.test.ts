import t from 'tap';
import fc from 'fast-check';
import { encodeProxyV2, encodeProxyV2Local, parseProxyHeader } from '../../src/net/proxy-protocol.js';
import { MAX_PROXY_HEADER_BYTES } from '../../src/limits.js';

t.test('v1 TCP4 and TCP6, with the following bytes left alone', async (t) => {
  const r = parseProxyHeader(Buffer.from('PROXY TCP4 203.0.113.7 192.0.2.1 56324 993\r\nA1 CAPABILITY\r\n'));
  t.same(r, { status: 'ok', length: 44, header: { version: 1, local: false, source: { address: '203.0.113.7', port: 56324 }, destination: { address: '192.0.2.1', port: 993 } } });
  const r6 = parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 4000 143\r\n'));
  t.equal(r6.status === 'ok' && r6.header.source?.address, '2001:db8::7');
  t.same(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { status: 'ok', length: 15, header: { version: 1, local: true } });
});

t.test('v1 TCP6: every spelling of an address is the one text v2 gives (one client, one address in logs, limits and DMS)', async (t) => {
  const v2 = (address: string): string | undefined => {
    const r = parseProxyHeader(encodeProxyV2({ address, port: 1 }, { address: '::1', port: 2 }));
    return r.status === 'ok' ? r.header.source?.address : undefined;
  };
  const spellings: Array<[string, string]> = [
    ['2001:db8::7', '2001:db8::7'],
    ['2001:DB8::7', '2001:db8::7'],
    ['2001:0db8:0000:0000:0000:0000:0000:0007', '2001:db8::7'],
    ['2001:db8:0:0:0:0:0:7', '2001:db8::7'],
    ['2001:db8::0:0:7', '2001:db8::7'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::FFFF:192.0.2.1', '192.0.2.1'],
    ['::ffff:c000:0201', '192.0.2.1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::0.0.0.1', '::1'],
  ];
  for (const [spelt, want] of spellings) {
    const r = parseProxyHeader(Buffer.from(`PROXY TCP6 ${spelt} ${spelt} 4000 143\r\n`));
    t.same(r.status === 'ok' && [r.header.source?.address, r.header.destination?.address], [want, want], `${spelt} is ${want}`);
    t.equal(v2(spelt), want, `${spelt}: as v2 gives it`);
  }
});

t.test('v1 refusals', async (t) => {
  for (const bad of ['PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n', 'PROXY TCP4 1.2.3 5.6.7.8 1 1\r\n', 'PROXY TCP4 ::1 ::1 1 1\r\n', 'PROXY TCP9 1.2.3.4 5.6.7.8 1 1\r\n', 'PROXY TCP4 1.2.3.4 5.6.7.8 01 1\r\n']) {
    t.equal(parseProxyHeader(Buffer.from(bad)).status, 'error', JSON.stringify(bad));
  }
  t.equal(parseProxyHeader(Buffer.from(`PROXY ${'x'.repeat(120)}`)).status, 'error', 'no CRLF within 107 bytes');
  t.equal(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')).status, 'error', 'not a PROXY header');
  t.equal(parseProxyHeader(Buffer.from('PROX')).status, 'incomplete');
});

t.test('v2 round trip, IPv4 and IPv6, with the SSL TLV', async (t) => {
  for (const [src, dst] of [['203.0.113.7', '192.0.2.1'], ['2001:db8::7', '2001:db8::1'], ['::ffff:1.2.3.4', '::1']] as const) {
    const buf = encodeProxyV2({ address: src, port: 4242 }, { address: dst, port: 143 }, { tls: true });
    const r = parseProxyHeader(Buffer.concat([buf, Buffer.from('rest')]));
    t.equal(r.status, 'ok');
    if (r.status !== 'ok') continue;
    t.equal(r.length, buf.length, 'length excludes what follows');
    t.equal(r.header.source?.port, 4242);
    t.equal(r.header.destination?.port, 143);
  }
  const tls = encodeProxyV2({ address: '1.2.3.4', port: 1 }, { address: '5.6.7.8', port: 2 }, { tls: true });
  t.equal(tls.readUInt16BE(14), 12 + 8, 'addresses + PP2_TYPE_SSL TLV');
  t.equal(tls[28], 0x20, 'PP2_TYPE_SSL');
});

t.test('v2: every prefix is incomplete, LOCAL keeps the socket address, caps hold', async (t) => {
  const buf = encodeProxyV2({ address: '203.0.113.7', port: 1 }, { address: '192.0.2.1', port: 2 });
  for (let i = 0; i < buf.length; i++) t.equal(parseProxyHeader(buf.subarray(0, i)).status, 'incomplete', `prefix ${i}`);
  const local = Buffer.from(buf);
  local[12] = 0x20;
  local.writeUInt16BE(0, 14);
  t.same(parseProxyHeader(local.subarray(0, 16)), { status: 'ok', length: 16, header: { version: 2, local: true } });
  t.same(parseProxyHeader(encodeProxyV2Local()), { status: 'ok', length: 16, header: { version: 2, local: true } }, 'the LOCAL header our probes send');
  const big = Buffer.from(buf);
  big.writeUInt16BE(MAX_PROXY_HEADER_BYTES, 14);
  t.equal(parseProxyHeader(big).status, 'error', 'over the cap');
});

t.test('property: never throws, never claims more bytes than given', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, v2) => {
    const prefix = v2 ? Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]) : Buffer.from('PROXY ');
    const buf = Buffer.concat([prefix, Buffer.from(bytes)]);
    const r = parseProxyHeader(buf);
    return r.status !== 'ok' || r.length <= buf.length;
  }), { numRuns: 2000 });
  t.pass();
});
