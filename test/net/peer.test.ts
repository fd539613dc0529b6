// Session ids: short, random, never repeated, including across refills of their pool.
import t from 'tap';
import { newSessionId, plainAddress } from '../../src/net/peer.js';

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
