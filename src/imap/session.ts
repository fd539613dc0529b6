// One IMAP client connection before login: greeting, pre-auth commands, login, then the
// splice. The connection (socket, TLS, timers, close) is session/connection.ts; the login is
// the shared flow (session/login.ts). This file frames IMAP and words the outcomes; command
// handlers (commands/) only decide what to say.
import type net from 'node:net';
import type { ServerTlsSource } from '../net/tls-context.js';
import type { Peer } from '../net/peer.js';
import type { Logger } from '../observability/logger.js';
import { SaslError, type SaslCredentials, type SaslMechanism } from '../auth/sasl/index.js';
import { FramedConnection, type ResponseWaiter } from '../session/framed-connection.js';
import { isHttpRequest } from '../session/http-probe.js';
import type { LiveSession } from '../session/line-service.js';
import type { SessionLogin, LoginParts, LoginSink } from '../session/login.js';
import type { LoginOutcome } from '../session/login-outcome.js';
import type { SaslWire } from '../session/sasl-exchange.js';
import { ImapFramer, type FramerEvent } from './framer.js';
import { ImapParseError, parseCommand } from './parser.js';
import { preauthCapabilities, type CapabilityState } from './capabilities.js';
import { PREAUTH_COMMANDS, POSTAUTH_COMMANDS } from './commands/index.js';
import type { ImapContext } from './commands/context.js';
import { TEXT, tagged, untagged } from './replies.js';

// The greeting line of each capability list (one of four), built once: a concatenated line
// was built, and flattened by the socket write, on every connection (issue 21).
const greetings = new Map<string, string>();
function greeting(capabilities: string): string {
  let line = greetings.get(capabilities);
  if (line === undefined) greetings.set(capabilities, line = untagged(`OK [CAPABILITY ${capabilities}] ${TEXT.greeting}`));
  return line;
}

/** What the service keeps of a connection, to end it at shutdown. */
export type SessionHandle = LiveSession;

export interface ImapSessionLimits {
  readonly maxLineBytes: number;
  readonly maxLiteralBytes: number;
  readonly maxBadCommands: number;
  readonly preauthTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

type Backend = { readonly capabilities: string };

/** A drain's last line to a spliced session (one function for all, kept by each). */
const bye = (text: string): string => untagged(`BYE ${text}`);

export interface ImapSessionDeps {
  readonly limits: ImapSessionLimits;
  readonly allowPlaintextAuth: boolean;
  readonly tlsContext: ServerTlsSource | null;
  /** The shared login flow's parts: authenticator, failure guard, and Dovecot (master credentials bound in). */
  readonly login: LoginParts<Backend>;
  readonly log: Logger;
  /** The connection ended; `session` is the session, or its handle once spliced. */
  readonly onEnd?: (session: SessionHandle) => void;
  /** Logged in as `user` and spliced: from now on `handle` stands for `session`, which is dropped. */
  readonly onSpliced?: (session: SessionHandle, handle: SessionHandle, user: string, appPassword?: string) => void;
  /** Tells the connection limits this connection is no longer pre-login. */
  readonly loggedIn?: () => void;
}

/** `* OK [CAPABILITY ...]`: a session's greeting, and the one a plaintext listener writes at admission. */
export function imapGreeting(s: CapabilityState): string {
  return greeting(preauthCapabilities(s));
}

export class ImapSession extends FramedConnection<FramerEvent> implements ImapContext, SessionHandle, SaslWire, LoginSink<Backend> {
  protected readonly framer: ImapFramer;
  private clientId: ReadonlyArray<readonly [string, string]> = [];
  private readonly logins: SessionLogin<Backend>;

  constructor(socket: net.Socket, implicitTls: boolean, private readonly deps: ImapSessionDeps, peer?: Peer) {
    super(socket, implicitTls, {
      protocol: 'imap', log: deps.log, tlsContext: deps.tlsContext, preauthTimeoutMs: deps.limits.preauthTimeoutMs,
      texts: { timeout: TEXT.timeout, internalError: TEXT.internalError },
    }, peer);
    this.framer = new ImapFramer({ maxLineBytes: deps.limits.maxLineBytes, maxLiteralBytes: deps.limits.maxLiteralBytes });
    this.logins = this.newLogin(deps.login, deps.loggedIn, () => this.clientId);
  }

  get allowPlaintextAuth(): boolean { return this.deps.allowPlaintextAuth; }

  protected greeting(): string {
    return imapGreeting(this);
  }

  protected farewell(text: string): string {
    return untagged(`BYE ${text}`);
  }

  protected ended(): void {
    this.deps.onEnd?.(this);
  }

  // ---- the command loop (session/framed-connection.ts) ----------------------------

  /** A synchronizing literal was accepted: the client waits for `+` (RFC 9051 §4.3). */
  protected override intercepted(ev: FramerEvent): boolean {
    if (ev.type !== 'literal-continue') return false;
    this.send('+ Ready for literal data\r\n');
    return true;
  }

  protected dispatch(ev: FramerEvent): void {
    switch (ev.type) {
      case 'literal-continue':
      case 'line':
        return; // only in 'line' mode, which is set while a waiter exists
      case 'error':
        if (ev.fatal) return this.close(ev.code === 'ERR_IMAP_BUFFER_FULL' ? TEXT.bufferFull : TEXT.literalTooBig, ev.code);
        return this.bad(ev.tag ?? '*', ev.code === 'ERR_IMAP_LINE_TOO_LONG' ? TEXT.lineTooLong : TEXT.literalTooBig, ev.code === 'ERR_IMAP_LITERAL_TOO_BIG' ? 'TOOBIG' : undefined);
      case 'command':
        return this.runCommand(ev.segments);
    }
  }

  private runCommand(segments: Buffer[]): void {
    // A browser or scanner speaking HTTP to a mail port (cross-protocol attacks): end it
    // at once instead of answering line by line (smtp-server does the same for SMTP).
    if (segments.length === 1 && isHttpRequest(segments[0]!)) return this.close(TEXT.http, 'http-request');
    let cmd;
    try {
      cmd = parseCommand(segments);
    } catch (err) {
      if (!(err instanceof ImapParseError)) throw err;
      return this.bad(err.tag ?? '*', TEXT.syntax);
    }
    const handler = PREAUTH_COMMANDS.get(cmd.name);
    if (!handler) {
      if (POSTAUTH_COMMANDS.has(cmd.name)) return this.bad(cmd.tag, TEXT.notAuthenticated);
      return this.bad(cmd.tag, TEXT.unknownCommand);
    }
    const result = handler(this, cmd);
    // A bug in a command's promise: NO [SERVERBUG], then the session ends.
    if (result instanceof Promise) this.runHandler(cmd.name, result, () => this.reply(cmd.tag, 'NO', TEXT.unavailable, 'SERVERBUG'));
  }

  protected deliverResponse(ev: FramerEvent, waiter: ResponseWaiter): void {
    this.framer.mode = 'command';
    if (ev.type === 'line') {
      // RFC 9051 §6.2.2: a line of just "*" cancels the exchange.
      return waiter.resolve(ev.line.length === 1 && ev.line[0] === 0x2a ? null : ev.line);
    }
    if (ev.type === 'error' && ev.fatal) {
      waiter.reject(new SaslError('ERR_SASL_TOO_LONG', 'continuation too long'));
      return this.close(TEXT.bufferFull, ev.code);
    }
    waiter.reject(new SaslError('ERR_SASL_TOO_LONG', 'continuation line too long'));
  }

  // ---- ImapContext -----------------------------------------------------------------

  reply(tag: string, status: 'OK' | 'NO' | 'BAD', text: string, code?: string): void {
    this.send(tagged(tag, status, text, code));
  }

  bad(tag: string, text: string, code?: string): void {
    this.reply(tag, 'BAD', text, code);
    this.countBad(this.deps.limits.maxBadCommands, TEXT.tooManyBad);
  }

  continuation(prompt: string): Promise<Buffer | null> {
    this.framer.mode = 'line';
    return this.awaitResponse(`+ ${prompt}\r\n`);
  }

  startTls(tag: string): void {
    this.framer.discard(); // plaintext pipelined after STARTTLS is never processed (CVE-2011-0411 class)
    this.clientId = []; // nor is an ID said in the clear forwarded (RFC 3207 §4.2's rule for SMTP)
    this.reply(tag, 'OK', TEXT.startTls);
    this.upgrade(() => this.pump());
  }

  logout(tag: string): void {
    this.send(untagged(`BYE ${TEXT.bye}`));
    this.reply(tag, 'OK', TEXT.logout);
    this.loggedOut();
  }

  setClientId(fields: ReadonlyArray<readonly [string, string]>): void {
    this.clientId = fields;
  }

  // ---- login: the shared flow decides, this only words the outcome (RFC 9051 §7.1) ----

  // A login settles this session as its sink (loginOutcome / loginFault): no promise, closure
  // or async frame per login between the command and the client's OK (issue 21). One login at
  // a time (nothing more is read meanwhile): its tag and command wait here.
  private loginTag = '';
  private loginCommand = '';

  authenticate(tag: string, mechanism: SaslMechanism, initial: string | undefined): void {
    this.loginStarted(tag, 'AUTHENTICATE');
    this.logins.authenticateTo(mechanism, initial, this, this);
  }

  /** SaslWire: the session is its own wire (no object and closure per login). */
  challenge(b64: string): Promise<Buffer | null> {
    return this.continuation(b64);
  }

  login(tag: string, creds: SaslCredentials): void {
    this.loginStarted(tag, 'LOGIN');
    this.logins.loginTo(creds, undefined, this);
  }

  private loginStarted(tag: string, command: string): void {
    this.loginTag = tag;
    this.loginCommand = command;
    this.handlerStarted();
  }

  /** LoginSink: the reply, then reading goes on (or the splice has the socket). */
  loginOutcome(o: LoginOutcome<Backend>): void {
    try {
      this.answer(this.loginTag, o);
    } catch (err) {
      return this.loginFault(err);
    }
    this.handlerDone();
  }

  /** LoginSink: our bug in the login: NO [SERVERBUG], then the session ends (as runHandler() does). */
  loginFault(err: unknown): void {
    const tag = this.loginTag;
    this.handlerFailed(this.loginCommand, err, () => this.reply(tag, 'NO', TEXT.unavailable, 'SERVERBUG'));
  }

  async authFailed(tag: string, mechanism: string, reason: string): Promise<void> {
    this.answer(tag, await this.logins.fail(mechanism, reason));
  }

  private answer(tag: string, o: LoginOutcome<Backend>): void {
    switch (o.kind) {
      case 'ok': return this.spliceTo(tag, o);
      case 'rejected':
        this.reply(tag, 'NO', TEXT.authFailed, 'AUTHENTICATIONFAILED');
        if (o.last) this.close(TEXT.tooManyFailures, 'too-many-auth-failures');
        return;
      case 'blocked': return this.close(TEXT.blocked, 'blocked');
      case 'unavailable':
      case 'backend-unavailable': return this.reply(tag, 'NO', TEXT.unavailable, 'UNAVAILABLE');
      case 'malformed': return this.bad(tag, TEXT.badSasl);
      case 'cancelled': return this.reply(tag, 'BAD', TEXT.authAborted);
      case 'gone': return;
    }
  }

  private spliceTo(tag: string, o: Extract<LoginOutcome<Backend>, { kind: 'ok' }>): void {
    const reply = tagged(tag, 'OK', TEXT.loggedIn, `CAPABILITY ${o.backend.capabilities}`);
    this.spliceLoggedIn(o, reply, bye, { idleTimeoutMs: this.deps.limits.idleTimeoutMs, onEnd: this.deps.onEnd, onSpliced: this.deps.onSpliced });
  }
}
