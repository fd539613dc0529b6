// What both protocols do around a login attempt: refuse blocked IPs and users before any
// credential is tried, delay every failure reply (growing), and forget an IP's failures
// after a success. One copy for IMAP and SMTP.
import { FailureLimiter, type FailureLimits, type Verdict } from './failure-limiter.js';

export class LoginGuard {
  readonly limiter: FailureLimiter;

  constructor(limits: FailureLimits, now?: () => number) {
    this.limiter = new FailureLimiter(limits, now);
  }

  blocked(ip: string, user?: string): Verdict {
    return this.limiter.check(ip, user);
  }

  /** Records a failure and resolves when its reply may be sent. */
  async failed(ip: string, user?: string): Promise<void> {
    const { delayMs } = this.limiter.fail(ip, user);
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
  }

  succeeded(ip: string): void {
    this.limiter.succeed(ip);
  }
}
