import t from 'tap';
import { FailureLimiter } from '../../src/auth/failure-limiter.js';

const limits = { windowMs: 60_000, maxPerIp: 5, maxPerUser: 8, blockMs: 300_000, delayMs: 100, delayMaxMs: 1000 };

t.test('delay doubles per failure in the window, capped', async (t) => {
  let now = 0;
  const l = new FailureLimiter(limits, () => now);
  t.same([1, 2, 3, 4].map(() => l.fail('198.51.100.1', 'a@x').delayMs), [100, 200, 400, 800]);
  now += 61_000; // the window slides past them
  t.equal(l.fail('198.51.100.1', 'a@x').delayMs, 100);
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

t.test('a user attacked from many IPs is blocked (case-insensitive), the IPs are not', async (t) => {
  const l = new FailureLimiter(limits, () => 0);
  for (let i = 0; i < 8; i++) l.fail(`203.0.113.${i}`, i % 2 ? 'Bob@Example.test' : 'bob@example.test');
  t.match(l.check('192.0.2.99', 'BOB@example.test'), { blocked: true, scope: 'user' });
  t.same(l.check('192.0.2.99', 'alice@example.test'), { blocked: false });
  t.same(l.check('203.0.113.1'), { blocked: false });
});

t.test('success forgets the IP failures but not a block', async (t) => {
  const l = new FailureLimiter(limits, () => 0);
  l.fail('192.0.2.1');
  l.fail('192.0.2.1');
  l.succeed('192.0.2.1');
  t.equal(l.fail('192.0.2.1').delayMs, 100, 'delay starts again');
  for (let i = 0; i < 5; i++) l.fail('192.0.2.2');
  l.succeed('192.0.2.2');
  t.match(l.check('192.0.2.2'), { blocked: true });
});

t.test('memory is bounded: per-key lists never exceed the threshold', async (t) => {
  const l = new FailureLimiter({ ...limits, maxPerIp: 3, blockMs: 1 }, () => 0);
  for (let i = 0; i < 10_000; i++) l.fail('192.0.2.7');
  t.equal(l.size, 1);
});
