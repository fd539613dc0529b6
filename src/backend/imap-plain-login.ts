// The IMAP backend login over plaintext (DMS_TLS=none, the usual leg next to DMS) as one object
// driven by the socket's events: it owns the socket, the read buffer, the login's timer and
// where the dialogue stands, and settles its sink once (a session's login itself, or a
// promise). The same dialogue as imap-login.ts's promise chain (which the TLS legs keep),
// without a promise, closure or listener per step: issue 21 counted 3 promise reactions
// between Dovecot's greeting and the first command and 5 after its OK, each a hop of the
// event loop's microtask queue run cold next to Dovecot.
//
//   connecting → greeting → (ID and AUTHENTICATE, one write) → ID's OK → AUTHENTICATE's OK
//   without SASL-IR: ID's OK → AUTHENTICATE PLAIN → continuation → credentials → OK
//   an OK without capabilities: CAPABILITY → its OK
import type net from 'node:net';
import { BackendError, connectFailed, connectTimedOut, dialTcp } from './dial.js';
import { proxyHeaderFor, type ClientAddress } from './client-address.js';
import { LoginTimer } from './login-timer.js';
import type { BackendLoginResult, BackendSink } from './login-result.js';
import { checkUntagged, expectGreeting, greetingCapabilities, parseCapabilityCode, readTagged, refusal, untaggedCapabilities } from './imap-reply.js';
import { hold } from '../net/reused-reads.js';
import { MAX_BACKEND_LINE_BYTES } from '../limits.js';

export type ImapLoginResult = BackendLoginResult<{ readonly capabilities: string }>;

/** Where the dialogue stands: what the next line from Dovecot answers. */
const Step = { Connecting: 0, Greeting: 1, IdReply: 2, Continuation: 3, AuthReply: 4, CapabilityReply: 5, Done: 6 } as const;
type Step = typeof Step[keyof typeof Step];

const EMPTY = Buffer.alloc(0);

export class ImapPlainLogin extends LoginTimer {
  private readonly socket: net.Socket;
  private step: Step = Step.Connecting;
  /** Bytes after the last line read; null when there are none. */
  private buffer: Buffer | null = null;
  /** Without SASL-IR the credentials wait for the continuation (RFC 4959 §3). */
  private saslIr = true;
  /** From the CAPABILITY fallback's untagged reply. */
  private capabilities: string | null = null;

  constructor(
    private readonly host: string,
    private readonly port: number,
    timeoutMs: number,
    /** Send a PROXY v2 header for this client first (null: none). */
    private readonly proxyFor: ClientAddress | null,
    private readonly plain: string,
    private readonly idLine: string | null,
    /** Settled once; its call is the last thing this object does. */
    private readonly sink: BackendSink<{ readonly capabilities: string }>,
  ) {
    super(timeoutMs, null);
    let socket: net.Socket | null = null;
    try {
      socket = dialTcp(host, port, true);
    } catch (err) {
      // net.connect() throws at once for what it cannot even try (a bad port): a failure
      // result like any other, the timer cleared.
      this.step = Step.Done;
      this.sink.backendSettled(this.failure(err));
    }
    this.socket = socket as net.Socket; // null only when Done: nothing reads it then
    if (socket === null) return;
    socket.on('connect', this.onConnect);
    socket.on('error', this.onError);
  }

  // The socket's events. No 'close' listener: while the login owns the socket only our own
  // destroy() closes it without an 'end' or 'error' first (allowHalfOpen: no auto-destroy on EOF).
  // A throw here would escape the socket's 'connect' event (an uncaught exception, and the
  // login left to its timer): a PROXY header that cannot be built (a client address that is
  // no IP) fails the login at once.
  private readonly onConnect = (): void => {
    const s = this.socket;
    s.removeListener('connect', this.onConnect);
    if (this.step !== Step.Connecting) return;
    this.step = Step.Greeting;
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    if (this.proxyFor === null) return;
    try {
      s.write(proxyHeaderFor(this.proxyFor));
    } catch (err) {
      this.fail(err);
    }
  };

  private readonly onError = (err: Error): void => {
    this.fail(this.step === Step.Connecting
      ? connectFailed(this.host, this.port, err)
      : new BackendError('ERR_BACKEND_CLOSED', `backend connection failed during login: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }));
  };

  private readonly onEnd = (): void => this.fail(new BackendError('ERR_BACKEND_CLOSED', 'backend closed the connection during login'));

  // A throw here would escape the socket's 'data' event (and end the process): it fails the login.
  private readonly onData = (chunk: Buffer): void => {
    if (this.step === Step.Done) return;
    try {
      const buf = this.buffer === null ? chunk : Buffer.concat([this.buffer, chunk]);
      let start = 0;
      for (let lf = buf.indexOf(0x0a); lf >= 0; lf = buf.indexOf(0x0a, start)) {
        const end = lf > start && buf[lf - 1] === 0x0d ? lf - 1 : lf;
        const line = buf.toString('utf8', start, end);
        start = lf + 1;
        if (this.read(line, buf, start)) return;
      }
      this.buffer = start === buf.length ? null : start === 0 ? buf : buf.subarray(start);
      if (this.buffer !== null && this.buffer.length > MAX_BACKEND_LINE_BYTES) this.fail(new BackendError('ERR_BACKEND_PROTOCOL', 'backend sent an over-long line'));
    } catch (err) {
      this.fail(err);
    }
  };

  /** One line from Dovecot; true once the login is over (`rest`: the bytes after it, from `at`). */
  private read(line: string, rest: Buffer, at: number): boolean {
    switch (this.step) {
      case Step.Greeting: {
        const caps = greetingCapabilities(expectGreeting(line));
        this.saslIr = caps === null || caps.includes('SASL-IR');
        this.authenticating();
        const s = this.socket;
        if (this.saslIr) {
          // ID and AUTHENTICATE in one write, one round trip instead of two: commands may be
          // pipelined (RFC 3501 §5.5), and Dovecot applies the ID before it reads the next line.
          s.write(this.idLine ? `${this.idLine}\r\nP3 AUTHENTICATE PLAIN ${this.plain}\r\n` : `P3 AUTHENTICATE PLAIN ${this.plain}\r\n`);
          this.step = this.idLine ? Step.IdReply : Step.AuthReply;
        } else if (this.idLine) {
          s.write(`${this.idLine}\r\n`);
          this.step = Step.IdReply;
        } else {
          s.write('P3 AUTHENTICATE PLAIN\r\n');
          this.step = Step.Continuation;
        }
        return false;
      }
      case Step.IdReply:
        if (readTagged(line, 'P2', false) === null) return false;
        if (this.saslIr) {
          this.step = Step.AuthReply;
        } else {
          this.socket.write('P3 AUTHENTICATE PLAIN\r\n');
          this.step = Step.Continuation;
        }
        return false;
      case Step.Continuation:
        if (!line.startsWith('+')) throw new BackendError('ERR_BACKEND_PROTOCOL', 'backend refused AUTHENTICATE PLAIN');
        this.socket.write(`${this.plain}\r\n`);
        this.step = Step.AuthReply;
        return false;
      case Step.AuthReply: {
        const done = readTagged(line, 'P3', true);
        if (done === null) return false;
        if (done.status !== 'OK') {
          this.step = Step.Done;
          this.clear();
          this.socket.destroy();
          this.sink.backendSettled(refusal(done));
          return true;
        }
        // An empty code (`[CAPABILITY ]`) counts as none, as in the TLS path: CAPABILITY is
        // asked rather than an empty list handed to the client's tagged OK.
        const caps = parseCapabilityCode(done.text);
        if (caps) return this.loggedIn(caps, rest, at);
        this.socket.write('P4 CAPABILITY\r\n');
        this.step = Step.CapabilityReply;
        return false;
      }
      case Step.CapabilityReply:
        if (line.startsWith('* ')) {
          checkUntagged(line);
          this.capabilities ??= untaggedCapabilities(line);
          return false;
        }
        readTagged(line, 'P4', false);
        return this.loggedIn(this.capabilities ?? 'IMAP4rev1', rest, at);
      default:
        return true;
    }
  }

  /** Hands the socket on: our listeners off, reads held for the splice (net/reused-reads.ts). */
  private loggedIn(capabilities: string, rest: Buffer, at: number): true {
    this.step = Step.Done;
    this.clear();
    const s = this.socket;
    s.removeListener('data', this.onData);
    s.removeListener('end', this.onEnd);
    s.removeListener('error', this.onError);
    if (!hold(s)) s.pause();
    const leftover = at < rest.length ? rest.subarray(at) : EMPTY;
    this.sink.backendSettled({ ok: true, socket: s, capabilities, leftover, loginMs: performance.now() - this.startedAt });
    return true;
  }

  /** Ends the login with the failure `err` stands for; our listeners stay to take what the dying socket still emits. */
  private fail(err: unknown): void {
    if (this.step === Step.Done) return;
    const connecting = this.step === Step.Connecting;
    this.step = Step.Done;
    this.socket.destroy();
    if (connecting) this.socket.removeListener('connect', this.onConnect);
    this.sink.backendSettled(this.failure(err));
  }

  protected override expire(): void {
    this.fail(this.step === Step.Connecting ? connectTimedOut(this.host, this.port, this.timeoutMs) : this.expired());
  }
}
