import t from 'tap';
import { LogThrottle } from '../../src/observability/log-throttle.js';

t.test('the first line per key, then one per window carrying the count left out', async (t) => {
  let now = 1_000;
  const th = new LogThrottle(60_000, 100, () => now);
  t.equal(th.pass('a'), 0, 'first: written');
  let written = 0;
  for (let i = 0; i < 500; i++) if (th.pass('a') !== undefined) written += 1;
  t.equal(written, 0, '500 more inside the window: none written');
  t.equal(th.pass('b'), 0, 'another key is not held back by the first');
  now += 59_999;
  t.equal(th.pass('a'), undefined, 'still inside the window');
  now += 1;
  t.equal(th.pass('a'), 501, 'the window over: written, with the 501 left out');
  t.equal(th.pass('a'), undefined);
  now += 60_000;
  t.equal(th.pass('a'), 1);
  now += 60_000;
  t.equal(th.pass('a'), 0, 'nothing left out since');
});

t.test('keys are bounded: the least recently written is forgotten first', async (t) => {
  let now = 0;
  const th = new LogThrottle(60_000, 3, () => now);
  th.pass('a');
  th.pass('b');
  th.pass('c');
  now += 60_000;
  th.pass('a'); // written again: now the most recent
  th.pass('d'); // over the bound: b goes
  t.equal(th.size, 3);
  t.equal(th.pass('b'), 0, 'b was forgotten: written as a first line');
  t.equal(th.pass('a'), undefined, 'a was kept');
  for (let i = 0; i < 10_000; i++) th.pass(`k${i}`);
  t.equal(th.size, 3, 'a flood of distinct keys stays within the bound');
});
