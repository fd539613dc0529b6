// The one login flow of every protocol: guard → SASL exchange → decision → backend login →
// verdict → failure budget. IMAP, SMTP (and the protocols after them) only frame the exchange
// and word the outcome; what is decided, logged (auth-failed is Fail2Ban's line), counted and
// delayed is decided here, once.
import type { Authenticator, LoginDecision } from '../auth/authenticator.js';
import { attemptOf, type Attempt, type LoginGuard } from '../auth/login-guard.js';
import { backendVerdict } from '../auth/backend-verdict.js';
import { SaslError, tokenFailureChallenge, type SaslCredentials, type SaslMechanism } from '../auth/sasl/index.js';
import type { BackendClient, BackendTarget, BackendUser } from '../backend/login-result.js';
import type { Logger } from '../observability/logger.js';
import { logAuthFailed, logAuthUnavailable, logBackendUnavailable, logLogin } from '../observability/events.js';
import { protocolOf } from '../observability/metrics.js';
import { contained, reportFault } from '../observability/faults.js';
import { readSaslCredentials, type SaslWire } from './sasl-exchange.js';
import type { LoginOutcome } from './login-outcome.js';
import type { Provisioner } from './provision.js';
import { MAX_AUTH_FAILURES } from '../limits.js';


/** What every session of a service shares: built once at start-up. */
export interface LoginParts<Extra> {
  readonly authenticator: Authenticator;
  readonly guard?: LoginGuard;
  /** The backend, with the master credentials bound in. */
  readonly backend: BackendTarget<Extra>;
  /** PROVISION_ON_LOGIN: creates the DMS account of a token user Dovecot does not know yet. */
  readonly provision?: Provisioner;
}

/** What the flow needs of one client connection. */
export interface LoginClient {
  /** The session's logger (sessionLogger): the protocol label of events and metrics comes from it. */
  readonly log: Logger;
  /** Who the client is, as DMS should learn it: read at login time (TLS or HELO may have changed). */
  backendClient(): BackendClient;
  /** The client has left (or the session closed): no reply is written. */
  gone(): boolean;
  /** Tells the connection limits this connection is no longer before login. */
  loggedIn?(): void;
}

/** Failed logins so far on one connection (MAX_AUTH_FAILURES ends it). */
export interface FailureBudget { failures: number }

/** One per client connection (or per command, sharing the connection's `budget`). */
export class SessionLogin<Extra> {
  constructor(
    private readonly parts: LoginParts<Extra>,
    private readonly client: LoginClient,
    private readonly budget: FailureBudget = { failures: 0 },
  ) {}

  /** AUTHENTICATE / AUTH: the SASL exchange on `wire`, then login(). */
  async authenticate(mech: SaslMechanism, initial: string | undefined, wire: SaslWire): Promise<LoginOutcome<Extra>> {
    let creds: SaslCredentials | null;
    try {
      const read = readSaslCredentials(mech, initial, wire);
      creds = read instanceof Promise ? await read : read;
    } catch (err) {
      if (!(err instanceof SaslError)) throw err;
      if (err.code === 'ERR_SASL_BASE64' || err.code === 'ERR_SASL_TOO_LONG') return { kind: 'malformed' };
      return this.fail(mech, `malformed ${mech} response (${err.code})`);
    }
    if (creds === null) return { kind: 'cancelled' };
    return this.login(creds, wire);
  }

  /**
   * Credentials already read (IMAP LOGIN, POP3 USER/PASS, or a finished exchange). A rejected
   * token gets the error challenge of RFC 7628 §3.2.2 on `wire` first, when there is one.
   */
  async login(creds: SaslCredentials, wire?: SaslWire): Promise<LoginOutcome<Extra>> {
    const { log } = this.client;
    const address = this.client.backendClient().address;
    const attempt = attemptOf(creds);
    const pending = this.parts.guard?.check(address, attempt);
    const verdict = pending instanceof Promise ? await pending : pending; // no turn for a local verdict
    if (verdict?.blocked) {
      // Credentials of a blocked client (or a password for a blocked user) are not even tried.
      logAuthFailed(log, { mech: creds.mechanism, user: attempt.user, reason: `${verdict.scope} blocked after repeated failures` });
      return this.client.gone() ? { kind: 'gone' } : { kind: 'blocked' };
    }
    const decision = await this.parts.authenticator.decide(creds);
    if (decision.outcome === 'unavailable') {
      if (this.client.gone()) return { kind: 'gone' };
      logAuthUnavailable(log, { mech: creds.mechanism, user: decision.user, reason: decision.reason });
      return { kind: 'unavailable' };
    }
    if (decision.outcome === 'rejected') {
      if (creds.kind === 'token' && wire && !this.client.gone()) {
        // RFC 7628 §3.2.2: an error challenge, then the client's dummy response (\x01, an
        // empty line, or * from most real clients: IDP-NOTES §8); its content is ignored.
        await wire.challenge(tokenFailureChallenge(creds.mechanism)).catch(() => null);
      }
      return this.fail(creds.mechanism, decision.reason, { ...attempt, user: decision.user });
    }
    if (this.client.gone()) return { kind: 'gone' };
    return this.toBackend(creds.mechanism, decision, attempt);
  }

  /** A login the protocol found malformed itself (e.g. IMAP LOGIN with a NUL in the password). */
  async fail(mech: string, reason: string, attempt?: Attempt): Promise<LoginOutcome<Extra>> {
    this.budget.failures += 1;
    // One stable event per failed login, never with a credential in it (Fail2Ban reads it);
    // also when the client has left meanwhile: the attempt was made all the same.
    logAuthFailed(this.client.log, { mech, user: attempt?.user, reason });
    const delay = this.parts.guard?.failed(this.client.backendClient().address, attempt);
    if (this.client.gone()) return { kind: 'gone' };
    await delay; // growing delay before the reply
    if (this.client.gone()) return { kind: 'gone' };
    return { kind: 'rejected', last: this.budget.failures >= MAX_AUTH_FAILURES };
  }

  private async toBackend(mech: string, decision: Extract<LoginDecision, { outcome: 'token' | 'password' }>, attempt: Attempt): Promise<LoginOutcome<Extra>> {
    const { log } = this.client;
    const user = decision.user;
    const who: BackendUser = decision.outcome === 'token'
      ? { kind: 'vouched', user }
      : { kind: 'password', authzid: decision.authzid, username: decision.username, password: decision.password };
    const client = this.client.backendClient();
    // PROVISION_ON_LOGIN: a token user gets a DMS account before the master login, so a first
    // login is not a refused one first. An app password is a password: it never provisions.
    if (this.parts.provision && decision.outcome === 'token' && !decision.appPassword) {
      const p = await this.parts.provision.ensure(user, client);
      if (this.client.gone()) return { kind: 'gone' };
      // Deleted or deactivated over SCIM since the decision: the authenticator's refusal, late.
      if (p.kind === 'refused') return this.fail(mech, `user disabled: ${p.reason}`, { ...attempt, user });
      if (p.kind === 'unavailable') {
        logBackendUnavailable(log, user, p.reason, mech);
        return { kind: 'backend-unavailable' };
      }
    }
    const result = await this.parts.backend(who, client);
    if (!result.ok) {
      const v = backendVerdict(decision.outcome, user, result, this.parts.guard?.recentFailures(client.address) ?? 0);
      if (v.kind === 'failed') return this.fail(mech, v.reason, { ...attempt, user });
      if (this.client.gone()) return { kind: 'gone' };
      logBackendUnavailable(log, user, v.reason, mech);
      return { kind: 'backend-unavailable' };
    }
    if (this.client.gone()) {
      result.socket.destroy();
      return { kind: 'gone' };
    }
    this.client.loggedIn?.();
    // The protocol writes the client's OK in this same turn (its continuation runs as
    // microtasks); the log line, the metrics and the guard's bookkeeping wait for the next
    // one, off the login's critical path (issue 21: Dovecot's OK → the client's).
    setImmediate(contained(() => {
      const via = decision.outcome === 'token' && decision.appPassword ? 'app-password' : decision.outcome;
      logLogin(log, { user, mech, via, backendMs: result.loginMs });
      this.parts.guard?.succeeded(client.address, user);
      this.parts.authenticator.succeeded(decision, client.address, protocolOf(log));
    }, (err) => reportFault(log, protocolOf(log), 'login bookkeeping', err)));
    const appPassword = decision.outcome === 'token' ? decision.appPassword : undefined;
    return appPassword ? { kind: 'ok', user, mech, backend: result, appPassword } : { kind: 'ok', user, mech, backend: result };
  }
}
