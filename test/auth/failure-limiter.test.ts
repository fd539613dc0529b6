import t from 'tap';
import { FailureLimiter } from '../../src/auth/failure-limiter.js';

const limits = { windowMs: 60_000, maxPerIp: 5, maxPerUser: 8, blockMs: 300_000, delayMs: 100, delayMaxMs: 1000, ipv6PrefixBits: 64 };
const password = (user: string) => ({ user, password: true });
const token = (user: string) => ({ user, password: false });

t.test('delay doubles per failure in the window, capped', async (t) => {
  let now = 0;
  const l = new FailureLimiter(limits, () => now);
  t.same([1, 2, 3, 4].map(() => l.fail('198.51.100.1', password('a@x')).delayMs), [100, 200, 400, 800]);
  now += 61_000; // the window slides past them
  t.equal(l.fail('198.51.100.1', password('a@x')).delayMs, 100);
});

t.test('the IP is blocked at the threshold, for blockMs, and other IPs are not', async (t) => {
  let now = 0;
  const l = new FailureLimiter(limits, () => now);
  for (let i = 0; i < 4; i++) t.equal(l.fail('198.51.100.2').blocked, false);
  t.equal(l.fail('198.51.100.2').blocked, true, 'fifth failure blocks');
  t.match(l.check('198.51.100.2'), { blocked: true, scope: 'ip', retryAfterMs: 300_000 });
  t.same(l.check('198.51.100.3'), { blocked: false });
  t.equal(l.fail('198.51.100.2').delayMs, 1000, 'delay capped');
  now += 300_001;
  t.same(l.check('198.51.100.2'), { blocked: false }, 'block expires');
});

t.test('a user whose password is guessed from many IPs is blocked for passwords (case-insensitive), the IPs are not', async (t) => {
  const l = new FailureLimiter(limits, () => 0);
  for (let i = 0; i < 8; i++) l.fail(`203.0.113.${i}`, password(i % 2 ? 'Bob@Example.test' : 'bob@example.test'));
  t.match(l.check('192.0.2.99', password('BOB@example.test')), { blocked: true, scope: 'user' });
  t.same(l.check('192.0.2.99', password('alice@example.test')), { blocked: false });
  t.same(l.check('203.0.113.1'), { blocked: false });
  t.same(l.check('192.0.2.99', token('bob@example.test')), { blocked: false }, 'a token for the user is still tried: it cannot be guessed');
});

t.test('issue 16 item 3: failed tokens in a user name never block that user, and another user\'s success resets nothing', async (t) => {
  const l = new FailureLimiter({ ...limits, maxPerIp: 10, maxPerUser: 20 }, () => 0);
  // The reported attack: 20 bogus tokens as bob from one IP, the attacker's own valid alice login after every 9.
  const blockedAt: number[] = [];
  for (let i = 1; i <= 20; i++) {
    if (l.check('192.0.2.66', token('bob@example.test')).blocked) blockedAt.push(i);
    else l.fail('192.0.2.66', token('bob@example.test'));
    if (i % 9 === 0) l.succeed('192.0.2.66', 'alice@example.test');
  }
  t.equal(blockedAt[0], 11, 'the attacker\'s IP is blocked after 10 failures despite his good logins in between');
  t.same(l.check('198.51.100.9', token('bob@example.test')), { blocked: false }, 'bob\'s token is tried');
  t.same(l.check('198.51.100.9', password('bob@example.test')), { blocked: false }, 'bob\'s password too');
});

t.test('a success forgets the client\'s failures in that user\'s name only, never a block', async (t) => {
  const l = new FailureLimiter(limits, () => 0);
  l.fail('192.0.2.1', password('alice@x'));
  l.fail('192.0.2.1', password('alice@x'));
  l.succeed('192.0.2.1', 'Alice@X');
  t.equal(l.fail('192.0.2.1', password('alice@x')).delayMs, 100, 'a typo then the right password: delay starts again');
  l.fail('192.0.2.4', password('bob@x'));
  l.fail('192.0.2.4', password('bob@x'));
  l.succeed('192.0.2.4', 'alice@x');
  t.equal(l.fail('192.0.2.4', password('bob@x')).delayMs, 400, 'alice\'s success leaves the guesses at bob counted');
  t.equal(l.recentFailures('192.0.2.4'), 3);
  for (let i = 0; i < 5; i++) l.fail('192.0.2.2');
  l.succeed('192.0.2.2', 'alice@x');
  t.match(l.check('192.0.2.2'), { blocked: true });
});

t.test('issue 16 item 11: IPv6 clients are counted per /64 (configurable), IPv4-mapped as IPv4', async (t) => {
  const l = new FailureLimiter(limits, () => 0);
  for (let i = 1; i <= 5; i++) l.fail(`2001:db8:1:2::${i.toString(16)}`);
  t.match(l.check('2001:db8:1:2:ffff:ffff:ffff:9'), { blocked: true, scope: 'ip' }, 'rotating inside the /64 does not escape');
  t.same(l.check('2001:db8:1:3::1'), { blocked: false }, 'the next /64 is another client');
  t.equal(l.size, 1);

  for (let i = 0; i < 5; i++) l.fail(i % 2 ? '::ffff:192.0.2.30' : '::ffff:c000:21e');
  t.match(l.check('192.0.2.30'), { blocked: true }, 'IPv4-mapped, dotted or hex, is the IPv4 address');
  t.same(l.check('192.0.2.31'), { blocked: false }, 'IPv4 is counted per address');

  const perAddress = new FailureLimiter({ ...limits, ipv6PrefixBits: 128 }, () => 0);
  for (let i = 1; i <= 5; i++) perAddress.fail(`2001:db8:1:2::${i}`);
  t.same(perAddress.check('2001:db8:1:2::9'), { blocked: false }, '128: per address');
});

t.test('memory is bounded: per-key lists never exceed the threshold', async (t) => {
  const l = new FailureLimiter({ ...limits, maxPerIp: 3, blockMs: 1 }, () => 0);
  for (let i = 0; i < 10_000; i++) l.fail('192.0.2.7');
  t.equal(l.size, 1);
});
