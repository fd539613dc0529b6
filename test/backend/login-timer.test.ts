// The one timer that bounds a backend login (src/backend/login-timer.ts): DMS_TIMEOUT_MS, plus
// Dovecot's auth penalty once the credentials are out. A login nearly always ends long before
// either; issue 21: such a login creates and clears one timer, not one more per authentication.
import t from 'tap';
import { createHook } from 'node:async_hooks';
import { LoginTimer } from '../../src/backend/login-timer.js';

function timersCreatedBy(fn: () => void): number {
  let n = 0;
  const hook = createHook({ init(_id, type) { if (type === 'Timeout') n += 1; } }).enable();
  try {
    fn();
  } finally {
    hook.disable();
  }
  return n;
}

const expiry = (timeoutMs: number, authenticate: boolean, waitMs: number): Promise<number | null> => new Promise((resolve) => {
  const started = performance.now();
  const timer = new LoginTimer(timeoutMs, () => resolve(performance.now() - started));
  if (authenticate) timer.authenticating();
  setTimeout(() => { timer.clear(); resolve(null); }, waitMs);
});

t.test('a login that sends its credentials and ends creates one timer', async (t) => {
  const n = timersCreatedBy(() => {
    const timer = new LoginTimer(5000, () => t.fail('expired'));
    timer.authenticating();
    timer.authenticating(); // SMTP may say so twice
    timer.clear();
  });
  t.equal(n, 1);
});

t.test('before the credentials are out, the login runs out after its timeout', async (t) => {
  const at = await expiry(50, false, 2000);
  t.ok(at !== null && at >= 45, `expired after ${at} ms`);
});

t.test('once the credentials are out, Dovecot\'s penalty is added to the timeout', async (t) => {
  t.equal(await expiry(50, true, 300), null, 'not expired at 300 ms');
  const timer = new LoginTimer(50, () => undefined);
  timer.authenticating();
  t.match(timer.expired().message, /auth penalty/);
  t.equal(timer.failure(timer.expired()).kind, 'unavailable');
  t.match(timer.failure(timer.expired()), { undecided: true });
});
