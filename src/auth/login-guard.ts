// What both protocols do around a login attempt: refuse blocked clients (and, for passwords,
// blocked users) before any credential is tried, delay every failure reply (growing), and
// forget a client's failures in a user's name after that user's success. One copy for IMAP
// and SMTP.
import { FailureLimiter, type Attempt, type FailureLimits, type Verdict } from './failure-limiter.js';
import type { SaslCredentials } from './sasl/types.js';

export type { Attempt };

/** The user a login names (unverified until the credentials are checked) and whether it is a password. */
export function attemptOf(creds: SaslCredentials): Attempt {
  return creds.kind === 'password' ? { user: creds.username, password: true } : { user: creds.authzid, password: false };
}

export class LoginGuard {
  readonly limiter: FailureLimiter;

  constructor(limits: FailureLimits, now?: () => number) {
    this.limiter = new FailureLimiter(limits, now);
  }

  /** At the door (no await possible): what this process knows. */
  blocked(ip: string, attempt?: Attempt): Verdict {
    return this.limiter.check(ip, attempt);
  }

  /**
   * Before credentials are tried; a guard with shared state (src/state/) also asks the store,
   * and only then is the verdict a promise (a login awaits no promise it does not need).
   */
  check(ip: string, attempt?: Attempt): Verdict | Promise<Verdict> {
    return this.blocked(ip, attempt);
  }

  /** Records a failure and resolves when its reply may be sent. */
  async failed(ip: string, attempt?: Attempt): Promise<void> {
    const { delayMs } = this.limiter.fail(ip, attempt);
    await sleep(delayMs);
  }

  succeeded(ip: string, user: string): void {
    this.limiter.succeed(ip, user);
  }

  recentFailures(ip: string): number {
    return this.limiter.recentFailures(ip);
  }
}

export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}
