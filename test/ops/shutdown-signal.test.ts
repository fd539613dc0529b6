// shutdownOnSignal (src/shutdown.ts) with a server whose shutdown never finishes: the
// signal's promise still resolves, with exit code 0, when the grace is over. The signal is
// emitted on this process (no real kill), and the handlers it left are removed after.
import t from 'tap';
import { Writable } from 'node:stream';
import { shutdownOnSignal, sessionDeadline } from '../../src/shutdown.js';
import { CLOSE_RESERVE_MS } from '../../src/limits.js';
import { createLogger } from '../../src/observability/logger.js';

const lines: Array<Record<string, unknown>> = [];
const log = createLogger('info', new Writable({ write(c: Buffer, _e, cb) { lines.push(JSON.parse(c.toString())); cb(); } }));

t.test('a shutdown that hangs is given up at the end of the grace', async (t) => {
  const before = new Set(process.listeners('SIGTERM'));
  t.teardown(() => {
    for (const l of process.listeners('SIGTERM')) if (!before.has(l)) process.off('SIGTERM', l);
    for (const l of process.listeners('SIGINT')) if (!before.has(l)) process.off('SIGINT', l);
  });
  const hanging = { shutdown: () => new Promise<void>(() => undefined), close: () => Promise.resolve() };
  const result = shutdownOnSignal(hanging, 300, log);
  const sentAt = Date.now();
  process.emit('SIGTERM', 'SIGTERM');
  const done = await Promise.race([result, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000))]);
  const tookMs = Date.now() - sentAt;
  t.not(done, 'timeout', 'resolved');
  if (done === 'timeout') return;
  t.equal(done.code, 0);
  t.ok(tookMs >= 290 && tookMs < 1000, `resolved at the grace's end (${tookMs} ms for 300 ms)`);
  t.ok(Math.abs(done.graceEndMs - (sentAt + 300)) < 100, 'reports when the grace ends');
  t.ok(lines.some((l) => l.event === 'shutdown-complete' && l.forced === true), 'logged as forced');
});

t.test('sessions are cut CLOSE_RESERVE_MS before the end, at most a quarter of the grace', async (t) => {
  t.equal(sessionDeadline(100_000, 30_000), 100_000 - CLOSE_RESERVE_MS);
  t.equal(sessionDeadline(100_000, 400), 100_000 - 100);
  t.equal(sessionDeadline(100_000, 0), 100_000);
});
