// What a backend login's failure means (issue 16 item 10): a password left undecided by the
// backend after recent failures from the client is a failed login (counted, logged for
// Fail2Ban), not a temporary failure that hides it.
import t from 'tap';
import { backendVerdict } from '../../src/auth/backend-verdict.js';

const timeout = { kind: 'unavailable' as const, reason: 'backend login took longer than 10000 ms', undecided: true };

t.test('a refused password or master login is a failed login', async (t) => {
  t.match(backendVerdict('password', 'a@x', { kind: 'rejected', reason: 'backend answered NO' }, 0), { kind: 'failed', reason: 'backend answered NO' });
  t.match(backendVerdict('token', 'a@x', { kind: 'rejected', reason: 'backend answered NO' }, 0), { kind: 'failed', reason: /master login for a@x/ });
});

t.test('an undecided password after recent failures from the client is a failed login', async (t) => {
  t.match(backendVerdict('password', 'a@x', timeout, 2), { kind: 'failed', reason: /after 2 recent failure/ });
});

t.test('otherwise the backend is unavailable: a first try, a token, a connect failure', async (t) => {
  t.match(backendVerdict('password', 'a@x', timeout, 0), { kind: 'unavailable' });
  t.match(backendVerdict('token', 'a@x', timeout, 5), { kind: 'unavailable' }, 'a token is not guessed: no reason to count it');
  t.match(backendVerdict('password', 'a@x', { kind: 'unavailable', reason: 'cannot connect' }, 5), { kind: 'unavailable' });
});
