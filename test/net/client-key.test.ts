// Per-IP limits count IPv6 clients by prefix (issue 16 item 11): the key function and the
// connection limiter that uses it.
import t from 'tap';
import net from 'node:net';
import { clientKey } from '../../src/net/client-key.js';
import { ConnectionLimiter } from '../../src/net/connection-limits.js';

t.test('client keys', async (t) => {
  t.equal(clientKey('192.0.2.7', 64), '192.0.2.7');
  t.equal(clientKey('2001:db8:a:b:1:2:3:4', 64), '2001:db8:a:b:0:0:0:0/64');
  t.equal(clientKey('2001:db8:a:b::ffff', 64), clientKey('2001:0db8:000a:000b:9::1', 64), 'any address in the /64, any spelling');
  t.equal(clientKey('2001:db8:a:b::1', 48), '2001:db8:a:0:0:0:0:0/48');
  t.equal(clientKey('2001:db8:a:b::1', 56), '2001:db8:a:0:0:0:0:0/56');
  t.equal(clientKey('2001:db8:a:ff::1', 60), '2001:db8:a:f0:0:0:0:0/60', 'a prefix inside a group');
  t.equal(clientKey('2001:db8::1', 128), '2001:db8:0:0:0:0:0:1/128');
  t.equal(clientKey('fe80::1%eth0', 64), 'fe80:0:0:0:0:0:0:0/64', 'zone id dropped');
  t.equal(clientKey('::ffff:198.51.100.4', 64), '198.51.100.4', 'IPv4-mapped (dotted)');
  t.equal(clientKey('::ffff:c633:6404', 64), '198.51.100.4', 'IPv4-mapped (hex, as PROXY v2 gives it)');
  t.equal(clientKey('::1', 64), '0:0:0:0:0:0:0:0/64');
  t.equal(clientKey('unknown', 64), 'unknown');
});

t.test('connections per IP count an IPv6 /64 as one client', async (t) => {
  const limiter = new ConnectionLimiter({ maxTotal: 100, maxPerIp: 2, maxPreauth: 100, ipv6PrefixBits: 64 });
  const sockets = [1, 2, 3, 4].map(() => new net.Socket());
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  t.match(limiter.admit(sockets[0]!, '2001:db8:1:2::1'), { ok: true });
  t.match(limiter.admit(sockets[1]!, '2001:db8:1:2::2'), { ok: true });
  t.same(limiter.admit(sockets[2]!, '2001:db8:1:2:dead::beef'), { ok: false, reason: 'per-ip' }, 'a third address in the same /64 is refused');
  t.match(limiter.admit(sockets[3]!, '2001:db8:1:3::1'), { ok: true }, 'another /64 is admitted');
  sockets[0]!.destroy();
  await new Promise((r) => sockets[0]!.once('close', r));
  t.equal(limiter.stats().ips, 2);
  const again = new net.Socket();
  t.teardown(() => again.destroy());
  t.match(limiter.admit(again, '2001:db8:1:2::7'), { ok: true }, 'a closed connection frees the /64\'s slot');
});

// The door checks before it counts (session/admission.ts writes the greeting in between):
// check() alone takes no slot; hold() takes one until the socket closes; loggedIn() leaves
// the pre-login count once, however often it is called.
t.test('check() counts nothing; hold() counts until close; loggedIn() counts once', async (t) => {
  const limiter = new ConnectionLimiter({ maxTotal: 2, maxPerIp: 2, maxPreauth: 2, ipv6PrefixBits: 64 });
  t.equal(limiter.check('192.0.2.1'), '192.0.2.1');
  t.equal(limiter.check('192.0.2.1'), '192.0.2.1', 'a check takes no slot');
  t.same(limiter.stats(), { total: 0, preauth: 0, ips: 0 });
  const a = new net.Socket();
  const b = new net.Socket();
  t.teardown(() => { a.destroy(); b.destroy(); });
  const slot = limiter.hold(a, limiter.check('192.0.2.1') as string);
  limiter.hold(b, limiter.check('2001:db8:1:2::1') as string);
  t.same(limiter.stats(), { total: 2, preauth: 2, ips: 2 });
  t.same(limiter.check('192.0.2.9'), { ok: false, reason: 'total' });
  slot.loggedIn();
  slot.loggedIn();
  t.same(limiter.stats(), { total: 2, preauth: 1, ips: 2 }, 'logged in once');
  a.destroy();
  await new Promise((r) => a.once('close', r));
  t.same(limiter.stats(), { total: 1, preauth: 1, ips: 1 }, 'released on close, its login not counted twice');
});
