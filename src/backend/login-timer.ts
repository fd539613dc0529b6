// The time one backend login may take. Dovecot holds an authentication from a client IP with
// recent failures for up to 15 s before it even checks it (auth penalty, per remote IP: the
// client address we pass with ID x-originating-ip, XCLIENT or PROXY; SMTP master mode checks
// passwords over IMAP first, smtp/dms-login.ts; Dovecot 2.3 src/auth/auth-penalty.h,
// AUTH_PENALTY_MAX_SECS). That is deliberate waiting, not a slow backend: the authentication
// step gets it on top of DMS_TIMEOUT_MS. Cut short, every password failure after the second
// from one client became a timeout (NO [UNAVAILABLE]) that Fail2Ban never saw.
import { BackendError } from './dial.js';
import type { BackendLoginFailure } from './login-result.js';
import { DOVECOT_PENALTY_MAX_MS } from '../limits.js';

export class LoginTimer {
  private readonly startedAt = performance.now();
  private timer: NodeJS.Timeout;
  /** True once the credentials were sent: a timeout from then on left the login undecided. */
  authSent = false;

  constructor(private readonly timeoutMs: number, private readonly onExpire: () => void) {
    this.timer = setTimeout(onExpire, timeoutMs);
  }

  /** The credentials go out now: what is left of the budget, plus Dovecot's penalty. */
  authenticating(): void {
    this.authSent = true;
    clearTimeout(this.timer);
    const left = Math.max(0, this.timeoutMs - (performance.now() - this.startedAt));
    this.timer = setTimeout(this.onExpire, left + DOVECOT_PENALTY_MAX_MS);
  }

  clear(): void {
    clearTimeout(this.timer);
  }

  /** The error a login that ran out of time fails with. */
  expired(): BackendError {
    return new BackendError('ERR_BACKEND_TIMEOUT', `backend login took longer than ${this.timeoutMs} ms${this.authSent ? ' (plus Dovecot\'s auth penalty)' : ''}`);
  }

  /** A login that threw: the backend unreachable or broken, or (a timeout once the credentials were out) undecided. */
  failure(err: unknown): BackendLoginFailure {
    this.clear();
    const reason = err instanceof BackendError ? err.message : `backend login failed: ${(err as Error).message}`;
    const undecided = this.authSent && err instanceof BackendError && err.code === 'ERR_BACKEND_TIMEOUT';
    return undecided ? { ok: false, kind: 'unavailable', reason, undecided } : { ok: false, kind: 'unavailable', reason };
  }
}
