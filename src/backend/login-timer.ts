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
  protected readonly startedAt = performance.now();
  private timer: NodeJS.Timeout;
  /** When the login runs out: startedAt + timeoutMs, plus Dovecot's penalty once the credentials are out. */
  private deadline: number;
  /** True once the credentials were sent: a timeout from then on left the login undecided. */
  authSent = false;

  /** `onExpire` null: a subclass that is the login itself overrides expire() (one object per login). */
  constructor(protected readonly timeoutMs: number, private readonly onExpire: (() => void) | null) {
    this.deadline = this.startedAt + timeoutMs;
    this.timer = setTimeout(this.check, timeoutMs);
  }

  /**
   * The credentials go out now: the budget grows by Dovecot's penalty. Only the deadline
   * moves; the timer set at the start re-arms itself for the rest when it fires, so a login
   * (nearly always done long before) creates and clears one timer, not two (issue 21).
   */
  authenticating(): void {
    if (!this.authSent) this.deadline += DOVECOT_PENALTY_MAX_MS;
    this.authSent = true;
  }

  clear(): void {
    clearTimeout(this.timer);
  }

  private readonly check = (): void => {
    const left = this.deadline - performance.now();
    // libuv's cached loop time may fire a timer up to ~1 ms before performance.now() says: no re-arm for that.
    if (left >= 1) this.timer = setTimeout(this.check, Math.ceil(left));
    else this.expire();
  };

  /** The login ran out of time. */
  protected expire(): void {
    this.onExpire?.();
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
