// The pre-login timer of every connection with the same timeout is one queue on one timer
// (src/session/deadlines.ts): each connection must still end at its own deadline, never
// before it, and one that logged in (removed) must never be ended.
import t from 'tap';
import { DeadlineQueue, type Expiring } from '../../src/session/deadlines.js';

function entry(name: string, log: Array<[string, number]>, start: number): Expiring {
  return {
    deadlineAt: 0, deadlinePrev: null, deadlineNext: null, deadlineQueued: false,
    expire: () => { log.push([name, performance.now() - start]); },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('each entry expires at its own deadline, in order, not before it', async (t) => {
  const q = new DeadlineQueue(120);
  const log: Array<[string, number]> = [];
  const start = performance.now();
  q.add(entry('a', log, start));
  await sleep(60);
  q.add(entry('b', log, start));
  await sleep(90); // a due at 120, b at ~180
  t.same(log.map(([n]) => n), ['a'], 'only the first has expired');
  await sleep(150);
  t.same(log.map(([n]) => n), ['a', 'b']);
  t.ok(log[0]![1] >= 119, `a after its 120 ms (${log[0]![1].toFixed(1)})`);
  t.ok(log[1]![1] >= 179, `b after its own deadline (${log[1]![1].toFixed(1)})`);
});

t.test('a removed entry never expires, and removing the head does not hold up the next', async (t) => {
  const q = new DeadlineQueue(100);
  const log: Array<[string, number]> = [];
  const start = performance.now();
  const a = entry('a', log, start);
  const b = entry('b', log, start);
  const c = entry('c', log, start);
  q.add(a);
  await sleep(30);
  q.add(b);
  q.add(c);
  q.remove(a); // logged in
  q.remove(c);
  q.remove(c); // twice is harmless
  await sleep(200);
  t.same(log.map(([n]) => n), ['b']);
  t.ok(log[0]![1] >= 129 && log[0]![1] < 400, `b at its own deadline (${log[0]![1].toFixed(1)})`);
  t.equal(a.deadlineQueued || b.deadlineQueued || c.deadlineQueued, false, 'nothing left queued');
  t.equal(a.deadlineNext ?? a.deadlinePrev ?? b.deadlineNext ?? b.deadlinePrev, null, 'no links kept (a logged-in session is not held)');
});

t.test('an entry added after the queue emptied gets its full time', async (t) => {
  const q = new DeadlineQueue(80);
  const log: Array<[string, number]> = [];
  const start = performance.now();
  const a = entry('a', log, start);
  q.add(a);
  q.remove(a);
  await sleep(50);
  q.add(entry('b', log, start)); // the timer armed for a fires at 80 and must not end b
  await sleep(60);
  t.same(log, [], 'b not ended at a\'s deadline');
  await sleep(100);
  t.same(log.map(([n]) => n), ['b']);
  t.ok(log[0]![1] >= 129, `b after 50 + 80 ms (${log[0]![1].toFixed(1)})`);
});

t.test('an expiry that ends other entries (a close that removes them) is safe', async (t) => {
  const q = new DeadlineQueue(50);
  const log: Array<[string, number]> = [];
  const start = performance.now();
  const b = entry('b', log, start);
  const a: Expiring = { ...entry('a', log, start), expire: () => { log.push(['a', 0]); q.remove(b); } };
  q.add(a);
  q.add(b);
  await sleep(150);
  t.same(log.map(([n]) => n), ['a']);
});
