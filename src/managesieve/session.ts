// One ManageSieve client connection before login (RFC 5804): capabilities, STARTTLS, the SASL
// exchange on ManageSieve strings, then the splice to Dovecot. The connection (socket, TLS,
// timers, close) is session/connection.ts; the login is the shared flow (session/login.ts).
// This file frames ManageSieve and words the outcomes; commands.ts decides what to say.
import type net from 'node:net';
import type { ServerTlsSource } from '../net/tls-context.js';
import type { Peer } from '../net/peer.js';
import type { Logger } from '../observability/logger.js';
import { SaslError, type SaslMechanism } from '../auth/sasl/index.js';
import { FramedConnection, type ResponseWaiter } from '../session/framed-connection.js';
import { isHttpRequest } from '../session/http-probe.js';
import type { SessionLogin, LoginParts } from '../session/login.js';
import type { LoginOutcome } from '../session/login-outcome.js';
import type { SaslWire } from '../session/sasl-exchange.js';
import type { LiveSession } from '../session/line-service.js';
// ManageSieve frames lines and `{n+}` literals exactly as IMAP does (RFC 5804 §4 literal-c2s).
import { LiteralFramer, type FramerEvent } from '../net/literal-framer.js';
import { parseCommand, parseResponse, quote, SieveParseError } from './parser.js';
import { capabilityLines, type BackendSieveCapabilities, type CapabilityState, type SieveCapabilitySource } from './capabilities.js';
import { POSTAUTH_COMMANDS, PREAUTH_COMMANDS, type SieveContext } from './commands.js';
import { farewell, response, TEXT, type SieveCode } from './replies.js';

export interface SieveSessionLimits {
  readonly maxLineBytes: number;
  readonly maxLiteralBytes: number;
  readonly maxBadCommands: number;
  readonly preauthTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

type Backend = { readonly capabilities: ReadonlyMap<string, string> };

export interface SieveSessionDeps {
  readonly limits: SieveSessionLimits;
  readonly allowPlaintextAuth: boolean;
  readonly tlsContext: ServerTlsSource | null;
  readonly login: LoginParts<Backend>;
  /** The backend's SIEVE/NOTIFY/MAXREDIRECTS, refreshed by each login. */
  readonly capabilities: SieveCapabilitySource;
  readonly log: Logger;
  readonly onEnd?: (h: LiveSession) => void;
  readonly onSpliced?: (session: LiveSession, handle: LiveSession, user: string, appPassword?: string) => void;
  readonly loggedIn?: () => void;
}

/** The capability lines and OK (RFC 5804 §1.7): a session's greeting, and the one the listener writes at admission. */
export function sieveGreeting(s: CapabilityState, backend: BackendSieveCapabilities): string {
  return capabilityLines(s, backend) + response('OK', TEXT.greeting);
}

export class ManageSieveSession extends FramedConnection<FramerEvent> implements SieveContext, LiveSession {
  protected readonly framer: LiteralFramer;
  private readonly logins: SessionLogin<Backend>;

  constructor(socket: net.Socket, implicitTls: boolean, private readonly deps: SieveSessionDeps, peer?: Peer) {
    super(socket, implicitTls, {
      protocol: 'managesieve', log: deps.log, tlsContext: deps.tlsContext, preauthTimeoutMs: deps.limits.preauthTimeoutMs,
      texts: { timeout: TEXT.timeout, internalError: TEXT.internalError },
    }, peer);
    this.framer = new LiteralFramer({ maxLineBytes: deps.limits.maxLineBytes, maxLiteralBytes: deps.limits.maxLiteralBytes });
    this.logins = this.newLogin(deps.login, deps.loggedIn);
  }

  get allowPlaintextAuth(): boolean { return this.deps.allowPlaintextAuth; }

  capabilityLines(): string {
    return capabilityLines(this, this.deps.capabilities.current);
  }

  protected greeting(): string {
    return sieveGreeting(this, this.deps.capabilities.current);
  }

  protected farewell(text: string): string {
    return farewell(text);
  }

  protected ended(): void {
    this.deps.onEnd?.(this);
  }

  // ---- the command loop (session/framed-connection.ts) ----------------------------

  /** ManageSieve has no `+` step: a `{n}` literal is read like `{n+}` (its body follows at once). */
  protected override intercepted(ev: FramerEvent): boolean {
    return ev.type === 'literal-continue';
  }

  protected dispatch(ev: FramerEvent): void {
    switch (ev.type) {
      case 'literal-continue':
      case 'line':
        return;
      case 'error':
        // Without a continuation the client sends a refused literal's body anyway: the stream is lost.
        if (ev.fatal || ev.code === 'ERR_IMAP_LITERAL_TOO_BIG') return this.close(ev.code === 'ERR_IMAP_BUFFER_FULL' ? TEXT.bufferFull : TEXT.literalTooBig, ev.code);
        return this.bad(TEXT.lineTooLong);
      case 'command':
        return this.runCommand(ev.segments);
    }
  }

  private runCommand(segments: Buffer[]): void {
    // A browser or scanner speaking HTTP to a mail port (cross-protocol attacks): end it at once.
    if (segments.length === 1 && isHttpRequest(segments[0]!)) return this.close(TEXT.http, 'http-request');
    let cmd;
    try {
      cmd = parseCommand(segments);
    } catch (err) {
      if (!(err instanceof SieveParseError)) throw err;
      return this.bad(TEXT.syntax);
    }
    const handler = PREAUTH_COMMANDS.get(cmd.name);
    if (!handler) return this.bad(POSTAUTH_COMMANDS.has(cmd.name) ? TEXT.notAuthenticated : TEXT.unknownCommand);
    const result = handler(this, cmd);
    // A bug in a command's promise: NO (TRYLATER), then the session ends.
    if (result instanceof Promise) this.runHandler(cmd.name, result, () => this.reply('NO', TEXT.internalError, 'TRYLATER'));
  }

  /** The client's answer to a SASL challenge: one string (RFC 5804 §2.1); `"*"` cancels. */
  protected deliverResponse(ev: FramerEvent, waiter: ResponseWaiter): void {
    if (ev.type === 'command') {
      let value: Buffer;
      try {
        value = parseResponse(ev.segments);
      } catch (err) {
        if (!(err instanceof SieveParseError)) throw err;
        return waiter.reject(new SaslError('ERR_SASL_BASE64', 'a SASL response must be one string'));
      }
      return waiter.resolve(value.length === 1 && value[0] === 0x2a ? null : value);
    }
    if (ev.type === 'error' && (ev.fatal || ev.code === 'ERR_IMAP_LITERAL_TOO_BIG')) {
      waiter.reject(new SaslError('ERR_SASL_TOO_LONG', 'response too long'));
      return this.close(ev.code === 'ERR_IMAP_BUFFER_FULL' ? TEXT.bufferFull : TEXT.literalTooBig, ev.code);
    }
    waiter.reject(new SaslError('ERR_SASL_TOO_LONG', 'response line too long'));
  }

  /** Sends a server challenge as a string and waits for the client's string. */
  private challenge(base64: string): Promise<Buffer | null> {
    return this.awaitResponse(`${quote(base64)}\r\n`);
  }

  // ---- SieveContext ----------------------------------------------------------------

  reply(status: 'OK' | 'NO', text: string, code?: SieveCode): void {
    this.send(response(status, text, code));
  }

  bad(text: string): void {
    this.reply('NO', text);
    this.countBad(this.deps.limits.maxBadCommands, TEXT.tooManyBad);
  }

  startTls(): void {
    this.framer.discard(); // plaintext pipelined after STARTTLS is never processed (CVE-2011-0411 class)
    this.reply('OK', TEXT.startTls);
    // RFC 5804 §2.2: after the handshake the server sends its capabilities again, then OK.
    this.upgrade(() => {
      this.send(this.capabilityLines());
      this.reply('OK', TEXT.tlsDone);
      this.pump();
    });
  }

  logout(): void {
    this.reply('OK', TEXT.logout);
    this.loggedOut();
  }

  // ---- login: the shared flow decides, this only words the outcome (RFC 5804 §1.3, §2.1) ----

  async authenticate(mechanism: SaslMechanism, initial: string | undefined): Promise<void> {
    const wire: SaslWire = { challenge: (b64) => this.challenge(b64) };
    this.answer(await this.logins.authenticate(mechanism, initial, wire));
  }

  private answer(o: LoginOutcome<Backend>): void {
    switch (o.kind) {
      case 'ok': return this.spliceTo(o);
      case 'rejected':
        this.reply('NO', TEXT.authFailed);
        if (o.last) this.close(TEXT.tooManyFailures, 'too-many-auth-failures');
        return;
      case 'blocked': return this.close(TEXT.blocked, 'blocked');
      case 'unavailable':
      case 'backend-unavailable': return this.reply('NO', TEXT.unavailable, 'TRYLATER');
      case 'malformed': return this.bad(TEXT.badSasl);
      case 'cancelled': return this.reply('NO', TEXT.authAborted);
      case 'gone': return;
    }
  }

  private spliceTo(o: Extract<LoginOutcome<Backend>, { kind: 'ok' }>): void {
    this.deps.capabilities.update(o.backend.capabilities);
    this.spliceLoggedIn(o, response('OK', TEXT.loggedIn), farewell, { idleTimeoutMs: this.deps.limits.idleTimeoutMs, onEnd: this.deps.onEnd, onSpliced: this.deps.onSpliced });
  }
}
