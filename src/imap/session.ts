// One client connection before login: greeting, pre-auth commands, login, then the splice.
// The session owns the socket; command handlers (commands/) only decide what to say.
import type net from 'node:net';
import type { ServerTlsSource } from '../net/tls-reload.js';
import type { Logger } from '../observability/logger.js';
import type { Authenticator } from '../auth/authenticator.js';
import { attemptOf, type Attempt, type LoginGuard } from '../auth/login-guard.js';
import { backendVerdict } from '../auth/backend-verdict.js';
import { SaslError, type SaslCredentials } from '../auth/sasl/index.js';
import { oauthbearerFailure, xoauth2Failure } from '../auth/sasl/challenge.js';
import type { ImapLoginRequest, ImapLoginResult } from '../backend/imap-login.js';
import { originatingIdFields } from '../backend/client-address.js';
import { startServerTls } from '../net/tls-context.js';
import { handOver } from '../net/handover.js';
import type { SpliceEnd } from '../net/splice.js';
import { closeWhenQuiet } from '../net/drain.js';
import { logAuthFailed, logAuthUnavailable, logBackendUnavailable, logLogin } from '../observability/events.js';
import { sessionLogger } from '../observability/metrics.js';
import { contained, reportFault } from '../observability/faults.js';
import { newSessionId, peerOf, type Peer } from '../net/peer.js';
import { ImapFramer, type FramerEvent } from './framer.js';
import { ImapParseError, parseCommand } from './parser.js';
import { preauthCapabilities } from './capabilities.js';
import { PREAUTH_COMMANDS, POSTAUTH_COMMANDS } from './commands/index.js';
import type { ImapContext } from './commands/context.js';
import { TEXT, tagged, untagged } from './replies.js';
import { FAREWELL_MS } from '../limits.js';

export interface ImapSessionLimits {
  readonly maxLineBytes: number;
  readonly maxLiteralBytes: number;
  readonly maxBadCommands: number;
  readonly preauthTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

export interface ImapSessionDeps {
  readonly limits: ImapSessionLimits;
  readonly allowPlaintextAuth: boolean;
  readonly tlsContext: ServerTlsSource | null;
  readonly authenticator: Authenticator;
  readonly backendLogin: (req: ImapLoginRequest) => Promise<ImapLoginResult>;
  readonly master: { readonly user: string; readonly password: string };
  readonly log: Logger;
  /** The connection ended; `session` is the session, or its handle once spliced. */
  readonly onEnd?: (session: SessionHandle) => void;
  /** Logged in as `user` and spliced: from now on `handle` stands for `session`, which is dropped. */
  readonly onSpliced?: (session: ImapSession, handle: SessionHandle, user: string) => void;
  readonly guard?: LoginGuard;
  /** Tells the connection limits this connection is no longer pre-login. */
  readonly loggedIn?: () => void;
}

const HTTP_REQUEST = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|TRACE|CONNECT|PATCH) \S+ HTTP\/\d\.\d$/i;

/** RFC 9051 has no limit; Dovecot closes after a few failures too. */
const MAX_AUTH_FAILURES = 3;

type State = 'starting' | 'preauth' | 'spliced' | 'closed';

/** What the service keeps of a connection, to end it at shutdown. */
export interface SessionHandle {
  /** Graceful: BYE before login; once spliced, `* BYE` when the session is quiet, cut at `deadline`; `why` is logged. */
  drain(text: string, deadline: number, why?: SpliceEnd): void;
  /** At once. */
  cut(text: string): void;
}

export class ImapSession implements ImapContext, SessionHandle {
  readonly id = newSessionId();
  readonly peer: Peer;
  private socket: net.Socket;
  private readonly framer: ImapFramer;
  private readonly log: Logger;
  private state: State = 'starting';
  private busy = false;
  /** Reading is paused until the client has read what it was sent (see pump()). */
  private awaitingDrain = false;
  private waiter: { resolve: (line: Buffer | null) => void; reject: (err: Error) => void } | null = null;
  private badCommands = 0;
  private authFailures = 0;
  private faulted = false;
  private clientId: ReadonlyArray<readonly [string, string]> = [];
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  secure = false;

  constructor(socket: net.Socket, private readonly implicitTls: boolean, private readonly deps: ImapSessionDeps, peer?: Peer) {
    this.socket = socket;
    this.peer = peer ?? peerOf(socket);
    this.log = sessionLogger(deps.log, 'imap', this.id, this.peer.address);
    this.framer = new ImapFramer({ maxLineBytes: deps.limits.maxLineBytes, maxLiteralBytes: deps.limits.maxLiteralBytes });
    this.timer = setTimeout(contained(() => this.close(TEXT.timeout, 'preauth-timeout'), (err) => this.fault('timer', err)), deps.limits.preauthTimeoutMs);
  }

  get canStartTls(): boolean { return this.deps.tlsContext !== null; }
  get allowPlaintextAuth(): boolean { return this.deps.allowPlaintextAuth; }

  start(): void {
    // Implicit TLS: TLS reads the socket (and any bytes already read after a PROXY header)
    // itself. Resuming the plain socket first would hand those bytes to nobody.
    if (this.implicitTls) return this.upgrade(() => this.greet());
    this.attach(this.socket);
    this.socket.resume(); // the listener hands sockets on paused (src/net/listen.ts)
    this.greet();
  }

  // ---- socket plumbing -------------------------------------------------------------

  // Every callback an emitter or timer calls goes through contained(): a throw in this
  // session's code ends this session (fault()), never the process.
  private readonly onData = contained((chunk: Buffer): void => {
    this.framer.push(chunk);
    this.pump();
  }, (err) => this.fault('data', err));
  private readonly onError = (err: Error): void => {
    this.log.debug({ event: 'client-error', err: (err as NodeJS.ErrnoException).code ?? err.message }, 'client connection error');
  };
  private readonly onClose = (): void => this.finish('client-closed');
  // A client that half-closes before login has nothing more to say; finish politely.
  private readonly onEnd = (): void => {
    if (this.state === 'preauth' || this.state === 'starting') this.socket.end();
  };

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('end', this.onEnd);
  }

  // After detach() nothing on the socket refers to this session any more.
  private detach(socket: net.Socket): void {
    socket.off('data', this.onData);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
    socket.off('end', this.onEnd);
  }

  private upgrade(then: () => void): void {
    const plain = this.socket;
    this.detach(plain);
    const secure = startServerTls(plain, this.deps.tlsContext!);
    this.socket = secure;
    this.attach(secure);
    secure.once('secure', contained(() => {
      this.secure = true;
      then();
    }, (err) => this.fault('tls', err)));
  }

  private greet(): void {
    if (this.state !== 'starting') return;
    this.state = 'preauth';
    this.send(untagged(`OK [CAPABILITY ${preauthCapabilities(this)}] ${TEXT.greeting}`));
    this.pump();
  }

  // ---- the command loop ------------------------------------------------------------

  private pump(): void {
    while (this.state === 'preauth') {
      if (this.busy && !this.waiter) {
        this.socket.pause(); // bounded: nothing more is read until the handler is done
        return;
      }
      // A client that pipelines commands and never reads its replies would make us buffer
      // them without end. Past the socket's high-water mark (16 KiB), no command is run and
      // nothing is read until it has taken what it was sent (smtp-server does the same).
      if (this.socket.writableNeedDrain) return this.awaitDrain();
      const ev = this.framer.next();
      if (!ev) return;
      if (this.waiter) this.deliverContinuation(ev);
      else this.dispatch(ev);
    }
  }

  private awaitDrain(): void {
    const socket = this.socket;
    socket.pause(); // again if a finished handler resumed it meanwhile
    if (this.awaitingDrain) return;
    this.awaitingDrain = true;
    socket.once('drain', () => {
      this.awaitingDrain = false;
      if (this.state !== 'preauth' || this.socket !== socket) return;
      if (!this.busy || this.waiter) socket.resume();
      this.pump();
    });
  }

  private dispatch(ev: FramerEvent): void {
    switch (ev.type) {
      case 'literal-continue':
        return this.send('+ Ready for literal data\r\n');
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
    if (segments.length === 1 && HTTP_REQUEST.test(segments[0]!.toString('latin1'))) return this.close(TEXT.http, 'http-request');
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
    if (!(result instanceof Promise)) return;
    this.busy = true;
    result
      .catch(contained((err: unknown) => {
        // A command's promise failed: a bug, not an IdP or backend outage (those are
        // answered inside). The command gets NO [SERVERBUG], then the session ends.
        this.reply(cmd.tag, 'NO', TEXT.unavailable, 'SERVERBUG');
        this.fault(cmd.name, err);
      }, (err) => this.fault(cmd.name, err)))
      .finally(contained(() => {
        this.busy = false;
        if (this.state !== 'preauth') return;
        this.socket.resume();
        this.pump();
      }, (err) => this.fault('data', err)));
  }

  private deliverContinuation(ev: FramerEvent): void {
    const waiter = this.waiter!;
    this.waiter = null;
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

  send(line: string): void {
    if (this.state !== 'closed' && !this.socket.destroyed) this.socket.write(line);
  }

  reply(tag: string, status: 'OK' | 'NO' | 'BAD', text: string, code?: string): void {
    this.send(tagged(tag, status, text, code));
  }

  bad(tag: string, text: string, code?: string): void {
    this.reply(tag, 'BAD', text, code);
    this.badCommands += 1;
    if (this.badCommands >= this.deps.limits.maxBadCommands) this.close(TEXT.tooManyBad, 'too-many-bad-commands');
  }

  continuation(prompt: string): Promise<Buffer | null> {
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.framer.mode = 'line';
      this.send(`+ ${prompt}\r\n`);
      this.socket.resume();
      setImmediate(contained(() => this.pump(), (err) => this.fault('data', err))); // lines may already be buffered
    });
  }

  async authFailed(tag: string, mechanism: string, reason: string, attempt?: Attempt): Promise<void> {
    this.authFailures += 1;
    // One stable event per failed login, never with a credential in it (Fail2Ban reads it);
    // also when the client has left meanwhile: the attempt was made all the same.
    logAuthFailed(this.log, { mech: mechanism, user: attempt?.user, reason });
    const delay = this.deps.guard?.failed(this.peer.address, attempt);
    if (this.state !== 'preauth') return;
    await delay; // growing delay before the reply
    if (this.state !== 'preauth') return;
    this.reply(tag, 'NO', TEXT.authFailed, 'AUTHENTICATIONFAILED');
    if (this.authFailures >= MAX_AUTH_FAILURES) this.close(TEXT.tooManyFailures, 'too-many-auth-failures');
  }

  startTls(tag: string): void {
    this.framer.discard(); // plaintext pipelined after STARTTLS is never processed (CVE-2011-0411 class)
    this.reply(tag, 'OK', TEXT.startTls);
    this.upgrade(() => this.pump());
  }

  logout(tag: string): void {
    this.send(untagged(`BYE ${TEXT.bye}`));
    this.reply(tag, 'OK', TEXT.logout);
    this.state = 'closed';
    this.socket.end();
    this.finish('logout');
  }

  setClientId(fields: ReadonlyArray<readonly [string, string]>): void {
    this.clientId = fields;
  }

  async login(tag: string, creds: SaslCredentials, opts: { challenge: boolean }): Promise<void> {
    const attempt = attemptOf(creds);
    const verdict = this.deps.guard?.blocked(this.peer.address, attempt);
    if (verdict?.blocked) {
      // Credentials of a blocked client (or a password for a blocked user) are not even tried.
      logAuthFailed(this.log, { mech: creds.mechanism, user: attempt.user, reason: `${verdict.scope} blocked after repeated failures` });
      return this.close(TEXT.blocked, 'blocked');
    }
    const decision = await this.deps.authenticator.decide(creds);
    if (decision.outcome === 'unavailable') {
      if (this.state !== 'preauth') return;
      logAuthUnavailable(this.log, { mech: creds.mechanism, user: decision.user, reason: decision.reason });
      return this.reply(tag, 'NO', TEXT.unavailable, 'UNAVAILABLE');
    }
    if (decision.outcome === 'rejected') {
      if (opts.challenge && this.state === 'preauth') {
        // RFC 7628 §3.2.2: an error challenge, then the client's dummy response (\x01, an
        // empty line, or * from most real clients: IDP-NOTES §8); its content is ignored.
        const json = creds.mechanism === 'XOAUTH2' ? xoauth2Failure({}) : oauthbearerFailure({});
        await this.continuation(json).catch(() => null);
      }
      return this.authFailed(tag, creds.mechanism, decision.reason, { ...attempt, user: decision.user });
    }
    if (this.state !== 'preauth') return;
    const user = decision.user;
    const result = await this.deps.backendLogin({
      credentials: decision.outcome === 'token'
        ? { kind: 'master', user, masterUser: this.deps.master.user, masterPassword: this.deps.master.password }
        : { kind: 'password', authzid: decision.authzid, username: decision.username, password: decision.password },
      client: { address: this.peer.address, port: this.peer.port, localAddress: this.peer.localAddress, localPort: this.peer.localPort, tls: this.secure },
      idFields: this.idFields(),
    });
    if (!result.ok) {
      const v = backendVerdict(decision.outcome, user, result, this.deps.guard?.recentFailures(this.peer.address) ?? 0);
      if (v.kind === 'failed') return this.authFailed(tag, creds.mechanism, v.reason, { ...attempt, user });
      if (this.state !== 'preauth') return;
      logBackendUnavailable(this.log, user, v.reason, creds.mechanism);
      return this.reply(tag, 'NO', TEXT.unavailable, 'UNAVAILABLE');
    }
    if (this.state !== 'preauth') return void result.socket.destroy();
    logLogin(this.log, { user, mech: creds.mechanism, via: decision.outcome, backendMs: result.loginMs });
    this.deps.guard?.succeeded(this.peer.address, user);
    this.deps.loggedIn?.();
    this.spliceTo(tag, result.socket, result.capabilities, result.leftover, user, creds.mechanism);
  }

  private idFields(): Array<[string, string]> {
    return [
      ...originatingIdFields(this.peer),
      ['x-session-ext-id', this.id],
      ...this.clientId.map(([k, v]) => [k, v] as [string, string]),
    ];
  }

  private spliceTo(tag: string, backend: net.Socket, capabilities: string, leftover: Buffer, user: string, mech: string): void {
    this.state = 'spliced';
    clearTimeout(this.timer);
    const client = this.socket;
    this.detach(client);
    client.write(tagged(tag, 'OK', TEXT.loggedIn, `CAPABILITY ${capabilities}`));
    // What stays alive of a session in IDLE for hours is the two sockets, the splice and
    // this small handle: the session (framer, SASL state, timers) is left to the GC.
    const { onEnd, onSpliced } = this.deps;
    const handle: SessionHandle = {
      drain: (text, deadline, why) => closeWhenQuiet({ client, backend, splice: s }, untagged(`BYE ${text}`), deadline, why),
      cut: () => s.close('shutdown'),
    };
    const s = handOver(client, backend, {
      fromBackend: leftover,
      fromClient: this.framer.takeRemaining(),
      idleTimeoutMs: this.deps.limits.idleTimeoutMs,
      log: this.log,
      user,
      mech,
      startedAt: this.startedAt,
      onEnd: () => onEnd?.(handle),
    });
    onSpliced?.(this, handle, user);
  }

  drain(text: string): void {
    this.close(text, 'shutdown');
  }

  cut(text: string): void {
    this.close(text, 'shutdown');
  }

  /** A throw in this session's code: reported once, `* BYE [SERVERBUG]`, the connection ends. */
  private fault(where: string, err: unknown): void {
    if (this.faulted) return;
    this.faulted = true;
    reportFault(this.log, 'imap', where, err);
    try {
      this.close(TEXT.internalError, 'internal-error');
    } finally {
      if (this.state !== 'closed' && this.state !== 'spliced') this.socket.destroy();
    }
  }

  /** Polite close before login: `* BYE` then FIN. */
  close(text: string, why: string): void {
    if (this.state === 'closed' || this.state === 'spliced') return;
    this.send(untagged(`BYE ${text}`));
    this.state = 'closed';
    this.waiter?.reject(new SaslError('ERR_SASL_SYNTAX', 'session closed'));
    this.socket.end();
    setTimeout(() => this.socket.destroy(), FAREWELL_MS).unref();
    this.finish(why);
  }

  private finish(why: string): void {
    clearTimeout(this.timer);
    if (this.state === 'spliced') return;
    const wasOpen = this.state !== 'closed' || why !== 'client-closed';
    this.state = 'closed';
    if (wasOpen && why !== 'client-closed') this.log.info({ event: 'session-end', end: why, durationMs: Date.now() - this.startedAt }, 'session ended before login');
    if (why === 'client-closed' || !this.socket.destroyed) this.deps.onEnd?.(this);
  }
}
