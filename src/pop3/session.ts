// One POP3 client connection before login: greeting, AUTHORIZATION-state commands, login,
// then the splice. The connection (socket, TLS, timers, close) is session/connection.ts; the
// login is the shared flow (session/login.ts). This file frames POP3 lines and words the
// outcomes (RFC 3206 codes); command handlers (commands.ts) only decide what to say.
import type net from 'node:net';
import type { ServerTlsSource } from '../net/tls-context.js';
import type { Peer } from '../net/peer.js';
import type { Logger } from '../observability/logger.js';
import { SaslError, type SaslCredentials, type SaslMechanism } from '../auth/sasl/index.js';
import { FramedConnection, type ResponseWaiter } from '../session/framed-connection.js';
import { isHttpRequest } from '../session/http-probe.js';
import type { SessionLogin, LoginParts } from '../session/login.js';
import type { LoginOutcome } from '../session/login-outcome.js';
import type { SaslWire } from '../session/sasl-exchange.js';
import type { LiveSession } from '../session/line-service.js';
import { Pop3Lines, type LineEvent } from './lines.js';
import { POSTAUTH_COMMANDS, PREAUTH_COMMANDS, type Pop3Context } from './commands.js';
import { err, ok, TEXT } from './replies.js';

export interface Pop3SessionLimits {
  /** Longest line: a command, or a SASL response (the same cap as IMAP's, IMAP_MAX_LINE_BYTES). */
  readonly maxLineBytes: number;
  readonly maxBadCommands: number;
  readonly preauthTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

export interface Pop3SessionDeps {
  readonly limits: Pop3SessionLimits;
  readonly allowPlaintextAuth: boolean;
  readonly tlsContext: ServerTlsSource | null;
  /** The shared login flow's parts: authenticator, failure guard, and Dovecot pop3 (master credentials bound in). */
  readonly login: LoginParts<object>;
  readonly log: Logger;
  readonly onEnd?: (session: LiveSession) => void;
  readonly onSpliced?: (session: LiveSession, handle: LiveSession, user: string, appPassword?: string) => void;
  readonly loggedIn?: () => void;
}

const MAX_VERB_BYTES = 8; // RFC 2449 §3: keywords are 3 or 4 characters; Dovecot reads up to 8

/** A session's greeting, and the one a plaintext listener writes at admission. */
export const POP3_GREETING = ok(TEXT.greeting);

export class Pop3Session extends FramedConnection<LineEvent> implements Pop3Context, LiveSession {
  protected readonly framer: Pop3Lines;
  private readonly logins: SessionLogin<object>;
  pendingUser: string | null = null;

  constructor(socket: net.Socket, implicitTls: boolean, private readonly deps: Pop3SessionDeps, peer?: Peer) {
    super(socket, implicitTls, {
      protocol: 'pop3', log: deps.log, tlsContext: deps.tlsContext, preauthTimeoutMs: deps.limits.preauthTimeoutMs,
      texts: { timeout: TEXT.timeout, internalError: TEXT.internalError },
    }, peer);
    this.framer = new Pop3Lines(deps.limits.maxLineBytes);
    this.logins = this.newLogin(deps.login, deps.loggedIn);
  }

  get allowPlaintextAuth(): boolean { return this.deps.allowPlaintextAuth; }

  protected greeting(): string {
    return POP3_GREETING;
  }

  protected farewell(text: string): string {
    return err(text);
  }

  protected ended(): void {
    this.deps.onEnd?.(this);
  }

  // ---- the command loop (session/framed-connection.ts) ----------------------------

  protected dispatch(ev: LineEvent): void {
    if (ev.type === 'too-long') return this.close(TEXT.lineTooLong, 'line-too-long');
    const line = ev.line;
    if (isHttpRequest(line)) return this.close(TEXT.http, 'http-request');
    const space = line.indexOf(0x20);
    const verbBytes = space < 0 ? line : line.subarray(0, space);
    if (verbBytes.length > MAX_VERB_BYTES) return this.bad(TEXT.unknownCommand);
    // Keywords are case-insensitive (RFC 1939 §3); ASCII only.
    const verb = verbBytes.toString('latin1').replace(/[a-z]/g, (c) => c.toUpperCase());
    const args = space < 0 ? Buffer.alloc(0) : line.subarray(space + 1);
    const handler = PREAUTH_COMMANDS.get(verb);
    if (!handler) return this.bad(POSTAUTH_COMMANDS.has(verb) ? TEXT.notAuthenticated : TEXT.unknownCommand);
    const result = handler(this, args);
    // A bug in a handler: the command gets -ERR [SYS/TEMP], then the session ends.
    if (result instanceof Promise) this.runHandler(verb, result, () => this.send(err(TEXT.unavailable, 'SYS/TEMP')));
  }

  protected deliverResponse(ev: LineEvent, waiter: ResponseWaiter): void {
    // RFC 5034 §4: a line of just "*" cancels the exchange.
    if (ev.type === 'line') return waiter.resolve(ev.line.length === 1 && ev.line[0] === 0x2a ? null : ev.line);
    waiter.reject(new SaslError('ERR_SASL_TOO_LONG', 'SASL response too long'));
    this.close(TEXT.lineTooLong, 'line-too-long');
  }

  // ---- Pop3Context -------------------------------------------------------------------

  bad(text: string): void {
    this.send(err(text));
    this.countBad(this.deps.limits.maxBadCommands, TEXT.tooManyBad);
  }

  startTls(): void {
    this.framer.discard(); // plaintext pipelined after STLS is never processed (CVE-2011-0411 class)
    this.pendingUser = null;
    this.send(ok(TEXT.startTls));
    this.upgrade(() => this.pump());
  }

  quit(): void {
    this.send(ok(TEXT.quit));
    this.loggedOut();
  }

  // ---- login: the shared flow decides, this only words the outcome (RFC 3206) ----------

  async authenticate(mechanism: SaslMechanism, initial: string | undefined): Promise<void> {
    this.pendingUser = null;
    const wire: SaslWire = { challenge: (b64) => this.awaitResponse(`+ ${b64}\r\n`) };
    this.answer(await this.logins.authenticate(mechanism, initial, wire));
  }

  async login(creds: SaslCredentials): Promise<void> {
    this.answer(await this.logins.login(creds));
  }

  async authFailed(mechanism: string, reason: string): Promise<void> {
    this.answer(await this.logins.fail(mechanism, reason));
  }

  private answer(o: LoginOutcome<object>): void {
    switch (o.kind) {
      case 'ok': return this.spliceTo(o);
      case 'rejected':
        this.send(err(TEXT.authFailed, 'AUTH'));
        if (o.last) this.close(TEXT.tooManyFailures, 'too-many-auth-failures');
        return;
      case 'blocked': return this.close(TEXT.blocked, 'blocked');
      case 'unavailable':
      case 'backend-unavailable': return this.send(err(TEXT.unavailable, 'SYS/TEMP'));
      case 'malformed': return this.bad(TEXT.badSasl);
      case 'cancelled': return this.send(err(TEXT.authAborted));
      case 'gone': return;
    }
  }

  private spliceTo(o: Extract<LoginOutcome<object>, { kind: 'ok' }>): void {
    // Dovecot's own "+OK Logged in." was read by the backend login; the client gets ours. Once
    // spliced, a drain ends a quiet session with `-ERR`, as Dovecot's pop3 does; a session closed
    // without QUIT never reaches the UPDATE state (RFC 1939 §6): nothing the client marked is deleted.
    this.spliceLoggedIn(o, ok(TEXT.loggedIn), err, { idleTimeoutMs: this.deps.limits.idleTimeoutMs, onEnd: this.deps.onEnd, onSpliced: this.deps.onSpliced });
  }
}
