// One client connection before login, for the line protocols the proxy frames itself (IMAP,
// POP3, ManageSieve; SMTP's is smtp-server's): the socket, STARTTLS or implicit TLS, the
// pre-login timer, back-pressure, a polite close, containment of our own bugs, and the hand-off
// of the socket once logged in. The protocol module adds framing, commands and words.
import type net from 'node:net';
import { startServerTls, type ServerTlsSource } from '../net/tls-context.js';
import { newSessionId, peerOf, type Peer } from '../net/peer.js';
import type { Logger } from '../observability/logger.js';
import { sessionLogger, type Protocol } from '../observability/metrics.js';
import { contained, reportFault } from '../observability/faults.js';
import { POLITE_CLOSE_MS } from '../limits.js';
import { deadlineQueue, type DeadlineQueue, type Expiring } from './deadlines.js';

export type ConnectionState = 'starting' | 'preauth' | 'spliced' | 'closed';

export interface ConnectionOptions {
  readonly protocol: Protocol;
  readonly log: Logger;
  readonly tlsContext: ServerTlsSource | null;
  readonly preauthTimeoutMs: number;
  /** What the client is told when the pre-login timer ends it, and when our own code failed. */
  readonly texts: { readonly timeout: string; readonly internalError: string };
}

export abstract class PreauthConnection implements Expiring {
  readonly id = newSessionId();
  readonly peer: Peer;
  secure = false;
  protected socket: net.Socket;
  protected readonly log: Logger;
  protected state: ConnectionState = 'starting';
  protected readonly startedAt = Date.now();
  private faulted = false;
  private awaitingDrain = false;
  // The pre-login timer: a place in the queue of every connection with this timeout
  // (session/deadlines.ts), not a setTimeout and its closures per connection.
  private readonly deadlines: DeadlineQueue;
  deadlineAt = 0;
  deadlinePrev: Expiring | null = null;
  deadlineNext: Expiring | null = null;
  deadlineQueued = false;

  constructor(socket: net.Socket, private readonly implicitTls: boolean, private readonly opts: ConnectionOptions, peer?: Peer) {
    this.socket = socket;
    this.peer = peer ?? peerOf(socket);
    this.log = sessionLogger(opts.log, opts.protocol, this.id, this.peer.address);
    this.deadlines = deadlineQueue(opts.preauthTimeoutMs);
    this.deadlines.add(this);
  }

  /** The pre-login timer ran out (called by the deadline queue, which is no emitter: faults contained here). */
  expire(): void {
    try {
      this.close(this.opts.texts.timeout, 'preauth-timeout');
    } catch (err) {
      this.faultContained('timer', err);
    }
  }

  get canStartTls(): boolean { return this.opts.tlsContext !== null; }

  /** `greeted`: the service wrote the greeting at admission already (line-service.ts). */
  start(greeted = false): void {
    // Implicit TLS: TLS reads the socket (and any bytes already read after a PROXY header)
    // itself. Resuming the plain socket first would hand those bytes to nobody.
    if (this.implicitTls) return this.upgrade(() => this.begin(false));
    this.attach(this.socket);
    this.socket.resume(); // the listener hands sockets on paused (src/net/listen.ts)
    this.begin(greeted);
  }

  /** The greeting, as this connection stands (TLS or not). */
  protected abstract greeting(): string;
  /** After the greeting, in state 'preauth': commands may be read. */
  protected abstract greeted(): void;
  /** Bytes from the client before login. */
  protected abstract received(chunk: Buffer): void;
  /** The line a polite close sends (IMAP `* BYE text`, POP3 `-ERR text`, ...). */
  protected abstract farewell(text: string): string;
  /** The connection is over before login (closed, or ended by us): the service forgets it. */
  protected abstract ended(): void;
  /** Called when the session closes before login, to fail what waits for the client (a continuation). */
  protected abandon(): void {}

  // Every callback an emitter or timer calls is contained: a throw in this session's code
  // ends this session (fault()), never the process. One closure per listener (contained()
  // would add two more per connection).
  private readonly onData = (chunk: Buffer): void => {
    try {
      this.received(chunk);
    } catch (err) {
      this.faultContained('data', err);
    }
  };
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

  private begin(greeted: boolean): void {
    if (this.state !== 'starting') return;
    this.state = 'preauth';
    if (!greeted) this.send(this.greeting());
    this.greeted();
  }

  /** TLS on this connection (STARTTLS / STLS, or implicit); `then` runs once it is up. */
  protected upgrade(then: () => void): void {
    const plain = this.socket;
    this.detach(plain);
    const secure = startServerTls(plain, this.opts.tlsContext!);
    this.socket = secure;
    this.attach(secure);
    secure.once('secure', contained(() => {
      this.secure = true;
      then();
    }, (err) => this.fault('tls', err)));
  }

  send(line: string): void {
    // Spliced: the socket carries Dovecot's stream now; a line of ours would be a second reply in it.
    if (this.state !== 'closed' && this.state !== 'spliced' && !this.socket.destroyed) this.socket.write(line);
  }

  /**
   * A client that pipelines commands and never reads its replies would make us buffer them
   * without end. Past the socket's high-water mark (16 KiB) nothing is read until it has
   * taken what it was sent (smtp-server does the same); then `resume` runs.
   */
  protected mustWaitForDrain(resume: (socket: net.Socket) => void): boolean {
    const socket = this.socket;
    if (!socket.writableNeedDrain) return false;
    socket.pause(); // again if a finished handler resumed it meanwhile
    if (this.awaitingDrain) return true;
    this.awaitingDrain = true;
    // Contained like every other callback here: `resume` runs the framer and the command handlers.
    socket.once('drain', contained(() => {
      this.awaitingDrain = false;
      if (this.state !== 'preauth' || this.socket !== socket) return;
      resume(socket);
    }, (err) => this.faultContained('drain', err)));
    return true;
  }

  /** Logged in: no more pre-login handling; the caller splices the returned socket. */
  protected handOff(): net.Socket {
    this.state = 'spliced';
    this.deadlines.remove(this);
    this.detach(this.socket);
    return this.socket;
  }

  /** A throw in this session's code: reported once, the internal-error farewell, the connection ends. */
  protected fault(where: string, err: unknown): void {
    if (this.faulted) return;
    this.faulted = true;
    reportFault(this.log, this.opts.protocol, where, err);
    try {
      this.close(this.opts.texts.internalError, 'internal-error');
    } finally {
      // A throw in the hand-off itself (the splice running, its registration not done): a
      // splice that a drain or a revocation may never reach is ended, not kept (fail closed).
      if (this.state !== 'closed') this.socket.destroy();
    }
  }

  /** fault() as contained() calls it: a throw of the fault handler itself is swallowed. */
  protected faultContained(where: string, err: unknown): void {
    try {
      this.fault(where, err);
    } catch {
      // the fault handler itself failed: nothing more can be done for this connection
    }
  }

  /** Polite close before login: the farewell, then FIN. */
  close(text: string, why: string): void {
    if (this.state === 'closed' || this.state === 'spliced') return;
    this.send(this.farewell(text));
    this.state = 'closed';
    this.abandon();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), POLITE_CLOSE_MS).unref();
    this.finish(why);
  }

  /** The client logged out: the protocol has written its last words already. */
  protected loggedOut(): void {
    this.state = 'closed';
    this.socket.end();
    // As close(): a client that never reads would keep a socket that never finishes writing.
    setTimeout(() => this.socket.destroy(), POLITE_CLOSE_MS).unref();
    this.finish('logout');
  }

  private finish(why: string): void {
    this.deadlines.remove(this);
    if (this.state === 'spliced') return;
    const wasOpen = this.state !== 'closed' || why !== 'client-closed';
    this.state = 'closed';
    if (wasOpen && why !== 'client-closed') this.log.info({ event: 'session-end', end: why, durationMs: Date.now() - this.startedAt }, 'session ended before login');
    if (why === 'client-closed' || !this.socket.destroyed) this.ended();
  }
}
