// The log lines' `time` field is read by tests and Fail2Ban filters: isoTimeOf() must write
// exactly what pino's isoTime writes, at every millisecond, across second, day and year
// boundaries and when the clock steps back.
import t from 'tap';
import { pino } from 'pino';
import { isoTimeOf } from '../../src/observability/timestamp.js';

function pinoIsoTime(ms: number): string {
  const realNow = Date.now;
  Date.now = () => ms;
  try { return pino.stdTimeFunctions.isoTime(); } finally { Date.now = realNow; }
}

t.test('the same text as pino.stdTimeFunctions.isoTime', async (t) => {
  let clock = 0;
  const iso = isoTimeOf(() => clock);
  const starts = [Date.UTC(2026, 11, 3, 17, 57, 27), Date.UTC(2026, 11, 31, 23, 59, 59), Date.UTC(1999, 11, 31, 23, 59, 58), 0, Date.UTC(10000, 0, 1) - 1500];
  let checked = 0;
  for (const start of starts) {
    for (let ms = start; ms < start + 2500; ms += 1) {
      clock = ms;
      const want = pinoIsoTime(ms);
      if (iso() !== want) t.fail(`at ${ms}: ${iso()} !== ${want}`);
      checked++;
    }
  }
  for (const ms of [Date.UTC(2026, 0, 1, 0, 0, 1, 5), Date.UTC(2026, 0, 1, 0, 0, 0, 999), Date.UTC(2025, 5, 6, 7, 8, 9, 10)]) {
    clock = ms; // the clock stepping back, and a jump
    t.equal(iso(), pinoIsoTime(ms), `after a step to ${ms}`);
  }
  t.equal(checked, starts.length * 2500);
});

t.test('the default clock is Date.now at each call (so a faked clock is seen)', async (t) => {
  const iso = isoTimeOf();
  const realNow = Date.now;
  Date.now = () => Date.UTC(2030, 1, 2, 3, 4, 5, 67);
  try { t.equal(iso(), ',"time":"2030-02-02T03:04:05.067Z"'); } finally { Date.now = realNow; }
});
