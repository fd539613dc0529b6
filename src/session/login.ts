// The one login flow of every protocol: guard → SASL exchange → decision → backend login →
// verdict → failure budget. IMAP, SMTP (and the protocols after them) only frame the exchange
// and word the outcome; what is decided, logged (auth-failed is Fail2Ban's line), counted and
// delayed is decided here, once.
import type { Authenticator, LoginDecision } from '../auth/authenticator.js';
import { attemptOf, type Attempt, type LoginGuard } from '../auth/login-guard.js';
import type { Verdict } from '../auth/failure-limiter.js';
import { backendVerdict } from '../auth/backend-verdict.js';
import { SaslError, tokenFailureChallenge, type SaslCredentials, type SaslMechanism } from '../auth/sasl/index.js';
import type { BackendCall, BackendClient, BackendLoginResult, BackendSink, BackendTarget, BackendUser } from '../backend/login-result.js';
import type { Logger } from '../observability/logger.js';
import { logAuthFailed, logAuthUnavailable, logBackendUnavailable, logLogin } from '../observability/events.js';
import { protocolOf } from '../observability/metrics.js';
import { contained, reportFault } from '../observability/faults.js';
import { readSaslCredentials, type SaslWire } from './sasl-exchange.js';
import type { LoginOutcome } from './login-outcome.js';
import type { ProvisionResult, Provisioner } from './provision.js';
import { MAX_AUTH_FAILURES } from '../limits.js';


/** What every session of a service shares: built once at start-up. */
export interface LoginParts<Extra> {
  readonly authenticator: Authenticator;
  readonly guard?: LoginGuard;
  /** The backend, with the master credentials bound in. */
  readonly backend: BackendTarget<Extra>;
  /** The same backend settling a callback, used in its place when there is one (IMAP: no promise over plaintext). */
  readonly backendCall?: BackendCall<Extra>;
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

/**
 * Where one login's outcome goes: exactly one call, the flow's last act. Neither may throw
 * (a session catches what its reply throws itself).
 */
export interface LoginSink<Extra> {
  loginOutcome(o: LoginOutcome<Extra>): void;
  /** A throw in the flow or a rejected promise inside it: our bug, not an outage (those are outcomes). */
  loginFault(err: unknown): void;
}

type Decided = Extract<LoginDecision, { outcome: 'token' | 'password' }>;

/** One per client connection (or per command, sharing the connection's `budget`). */
export class SessionLogin<Extra> {
  constructor(
    readonly parts: LoginParts<Extra>,
    readonly client: LoginClient,
    private readonly budget: FailureBudget = { failures: 0 },
  ) {}

  /** AUTHENTICATE / AUTH: the SASL exchange on `wire`, then login(). */
  authenticate(mech: SaslMechanism, initial: string | undefined, wire: SaslWire): Promise<LoginOutcome<Extra>> {
    return new Promise((resolve, reject) => this.authenticateTo(mech, initial, wire, { loginOutcome: resolve, loginFault: reject }));
  }

  /**
   * Credentials already read (IMAP LOGIN, POP3 USER/PASS, or a finished exchange). A rejected
   * token gets the error challenge of RFC 7628 §3.2.2 on `wire` first, when there is one.
   */
  login(creds: SaslCredentials, wire?: SaslWire): Promise<LoginOutcome<Extra>> {
    return new Promise((resolve, reject) => this.loginTo(creds, wire, { loginOutcome: resolve, loginFault: reject }));
  }

  /**
   * authenticate() settling `sink`. The common login (an initial response, a decided token or
   * a password, a backend that settles a callback) runs with no promise from the command to
   * the backend's OK: issue 21 counted 14 per login in the async chain this replaced.
   */
  authenticateTo(mech: SaslMechanism, initial: string | undefined, wire: SaslWire, sink: LoginSink<Extra>): void {
    new LoginRun(this, sink, wire).authenticate(mech, initial);
  }

  /** login() settling `sink`. */
  loginTo(creds: SaslCredentials, wire: SaslWire | undefined, sink: LoginSink<Extra>): void {
    new LoginRun(this, sink, wire).login(creds);
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
}

/**
 * One login attempt as a chain of steps that go on at once when they can and wait on a
 * promise only where something is awaited (a continuation, the IdP, the shared state, the
 * failure delay, provisioning, a backend with a promise). Each step catches its own throw:
 * the sink hears of it once, as a fault.
 */
class LoginRun<Extra> implements BackendSink<Extra> {
  private creds: SaslCredentials | null = null;
  private attempt: Attempt | null = null;
  private backendClient: BackendClient | null = null;
  private decision: Decided | null = null;

  constructor(private readonly owner: SessionLogin<Extra>, private readonly sink: LoginSink<Extra>, private readonly wire: SaslWire | undefined) {}

  authenticate(mech: SaslMechanism, initial: string | undefined): void {
    let read: SaslCredentials | null | Promise<SaslCredentials | null>;
    try {
      read = readSaslCredentials(mech, initial, this.wire!);
    } catch (err) {
      return this.saslFailed(mech, err);
    }
    if (read instanceof Promise) {
      read.then((creds) => (creds === null ? this.sink.loginOutcome({ kind: 'cancelled' }) : this.login(creds)), (err: unknown) => this.saslFailed(mech, err));
    } else if (read === null) {
      this.sink.loginOutcome({ kind: 'cancelled' });
    } else {
      this.login(read);
    }
  }

  private saslFailed(mech: SaslMechanism, err: unknown): void {
    if (!(err instanceof SaslError)) return this.sink.loginFault(err);
    // The session closed while a response was awaited (the pre-login deadline, a shutdown): no
    // credential was tried, so no auth-failed line for Fail2Ban and no failure for the limits.
    if (this.owner.client.gone()) return this.sink.loginOutcome({ kind: 'gone' });
    if (err.code === 'ERR_SASL_BASE64' || err.code === 'ERR_SASL_TOO_LONG') return this.sink.loginOutcome({ kind: 'malformed' });
    const reason = `malformed ${mech} response (${err.code})`;
    // No auth value: a discovery request (RFC 7628 §3.1, §3.2.2), answered as a bad token is.
    if (err.code === 'ERR_SASL_NO_AUTH' && this.wire && (mech === 'OAUTHBEARER' || mech === 'XOAUTH2')) return this.challengeThenFail(mech, reason);
    this.fail(mech, reason);
  }

  /** RFC 7628 §3.2.2: an error challenge, then the client's dummy response (\x01, an empty
   *  line, or * from most real clients: IDP-NOTES §8; its content is ignored), then the failure. */
  private challengeThenFail(mech: 'OAUTHBEARER' | 'XOAUTH2', reason: string, attempt?: Attempt): void {
    this.wire!.challenge(tokenFailureChallenge(mech)).catch(() => null)
      .then(() => this.fail(mech, reason, attempt), (err: unknown) => this.sink.loginFault(err));
  }

  login(creds: SaslCredentials): void {
    try {
      this.creds = creds;
      // Who the client is, as DMS learns it, read once at login time (TLS or HELO may have changed).
      const client = this.backendClient = this.owner.client.backendClient();
      const attempt = this.attempt = attemptOf(creds);
      const pending = this.owner.parts.guard?.check(client.address, attempt);
      if (pending instanceof Promise) pending.then((v) => this.guarded(v), (err: unknown) => this.sink.loginFault(err));
      else this.guarded(pending);
    } catch (err) {
      this.sink.loginFault(err);
    }
  }

  private guarded(verdict: Verdict | undefined): void {
    try {
      const creds = this.creds!;
      if (verdict?.blocked) {
        // Credentials of a blocked client (or a password for a blocked user) are not even tried.
        logAuthFailed(this.owner.client.log, { mech: creds.mechanism, user: this.attempt!.user, reason: `${verdict.scope} blocked after repeated failures` });
        return this.sink.loginOutcome(this.owner.client.gone() ? { kind: 'gone' } : { kind: 'blocked' });
      }
      const decision = this.owner.parts.authenticator.decideNow(creds);
      if (decision instanceof Promise) decision.then((d) => this.decided(d), (err: unknown) => this.sink.loginFault(err));
      else this.decided(decision);
    } catch (err) {
      this.sink.loginFault(err);
    }
  }

  private decided(decision: LoginDecision): void {
    try {
      const { client } = this.owner;
      const creds = this.creds!;
      if (decision.outcome === 'unavailable') {
        if (client.gone()) return this.sink.loginOutcome({ kind: 'gone' });
        logAuthUnavailable(client.log, { mech: creds.mechanism, user: decision.user, reason: decision.reason });
        return this.sink.loginOutcome({ kind: 'unavailable' });
      }
      if (decision.outcome === 'rejected') {
        const attempt = { ...this.attempt!, user: decision.user };
        if (creds.kind === 'token' && this.wire && !client.gone()) return this.challengeThenFail(creds.mechanism, decision.reason, attempt);
        return this.fail(creds.mechanism, decision.reason, attempt);
      }
      if (client.gone()) return this.sink.loginOutcome({ kind: 'gone' });
      this.decision = decision;
      // PROVISION_ON_LOGIN: a token user gets a DMS account before the master login, so a first
      // login is not a refused one first. An app password is a password: it never provisions.
      const provision = this.owner.parts.provision;
      if (provision && decision.outcome === 'token' && !decision.appPassword) {
        provision.ensure(decision.user, this.backendClient!).then((p) => this.provisioned(p), (err: unknown) => this.sink.loginFault(err));
        return;
      }
      this.toBackend();
    } catch (err) {
      this.sink.loginFault(err);
    }
  }

  private provisioned(p: ProvisionResult): void {
    try {
      const { client } = this.owner;
      const mech = this.creds!.mechanism;
      const user = this.decision!.user;
      if (client.gone()) return this.sink.loginOutcome({ kind: 'gone' });
      // Deleted or deactivated over SCIM since the decision: the authenticator's refusal, late.
      if (p.kind === 'refused') return this.fail(mech, `user disabled: ${p.reason}`, { ...this.attempt!, user });
      if (p.kind === 'unavailable') {
        logBackendUnavailable(client.log, user, p.reason, mech);
        return this.sink.loginOutcome({ kind: 'backend-unavailable' });
      }
      this.toBackend();
    } catch (err) {
      this.sink.loginFault(err);
    }
  }

  private toBackend(): void {
    const decision = this.decision!;
    const who: BackendUser = decision.outcome === 'token'
      ? { kind: 'vouched', user: decision.user }
      : { kind: 'password', authzid: decision.authzid, username: decision.username, password: decision.password };
    const { parts } = this.owner;
    if (parts.backendCall) parts.backendCall(who, this.backendClient!, this);
    else parts.backend(who, this.backendClient!).then((r) => this.backendSettled(r), (err: unknown) => this.sink.loginFault(err));
  }

  backendFault(err: unknown): void {
    this.sink.loginFault(err);
  }

  backendSettled(result: BackendLoginResult<Extra>): void {
    try {
      const { client, parts } = this.owner;
      const decision = this.decision!;
      const mech = this.creds!.mechanism;
      const user = decision.user;
      const address = this.backendClient!.address;
      if (!result.ok) {
        const v = backendVerdict(decision.outcome, user, result, parts.guard?.recentFailures(address) ?? 0);
        if (v.kind === 'failed') return this.fail(mech, v.reason, { ...this.attempt!, user });
        if (client.gone()) return this.sink.loginOutcome({ kind: 'gone' });
        logBackendUnavailable(client.log, user, v.reason, mech);
        return this.sink.loginOutcome({ kind: 'backend-unavailable' });
      }
      if (client.gone()) {
        result.socket.destroy();
        return this.sink.loginOutcome({ kind: 'gone' });
      }
      // Disabled or deleted over SCIM while Dovecot was asked: refused late, never spliced.
      const refused = parts.authenticator.refusedSince(decision);
      if (refused) {
        result.socket.destroy();
        return this.fail(mech, refused, { ...this.attempt!, user });
      }
      client.loggedIn?.();
      // The protocol writes the client's OK in this same turn; the log line, the metrics and
      // the guard's bookkeeping wait for the next one, off the login's critical path (issue
      // 21: Dovecot's OK → the client's).
      const log = client.log;
      setImmediate(contained(() => {
        const via = decision.outcome === 'token' && decision.appPassword ? 'app-password' : decision.outcome;
        logLogin(log, { user, mech, via, backendMs: result.loginMs });
        parts.guard?.succeeded(address, user);
        parts.authenticator.succeeded(decision, address, protocolOf(log));
      }, (err) => reportFault(log, protocolOf(log), 'login bookkeeping', err)));
      const appPassword = decision.outcome === 'token' ? decision.appPassword : undefined;
      this.sink.loginOutcome(appPassword ? { kind: 'ok', user, mech, backend: result, appPassword } : { kind: 'ok', user, mech, backend: result });
    } catch (err) {
      this.sink.loginFault(err);
    }
  }

  /** A failed login: counted, logged, delayed (SessionLogin.fail), then the sink. */
  private fail(mech: string, reason: string, attempt?: Attempt): void {
    this.owner.fail(mech, reason, attempt).then((o) => this.sink.loginOutcome(o), (err: unknown) => this.sink.loginFault(err));
  }
}
