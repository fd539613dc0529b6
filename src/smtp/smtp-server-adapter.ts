// Every use of smtp-server beyond its documented API lives in this file (and, for its parser,
// smtp-server-takeover.ts), and nowhere else.
//
// smtp-server is pinned to an exact version in package.json; test/smtp/adapter.test.ts
// checks each private member used here on a live connection, so an upgrade that changes
// them fails a test instead of failing in production.
//
// What we need that the public API does not give:
//  - our own AUTH: the shared SASL decoders and Authenticator (no second copy), the RFC 7628
//    error challenge, OAUTHBEARER, and a 235 only once the backend has accepted the login.
//    We replace the connection's handler_AUTH and use its _nextHandler for continuations.
//  - the hand-over: after 235 the socket is taken from smtp-server (unpiped from its parser,
//    its timers and bookkeeping cleared) and spliced to Postfix; the lines pipelined behind
//    AUTH are taken from its parser by smtp-server-takeover.ts, the one other such file.
//  - no AUTH in EHLO before TLS (smtp-server always lists it).
import type net from 'node:net';
import type { ServerTlsSource } from '../net/tls-context.js';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { contained } from '../observability/faults.js';
import { REPLY } from './replies.js';
import { takeParsedLines, type SmtpParser } from './smtp-server-takeover.js';
import { isHttpRequest } from '../session/http-probe.js';

export const SMTP_SERVER_VERSION = '3.21.6';

/** The private shape of smtp-server's SMTPConnection that this file relies on. */
interface ConnectionInternals {
  id: string;
  secure: boolean;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  hostNameAppearsAs: string | false;
  session: { user?: unknown };
  send(code: number, data?: string | string[], context?: string | false): void;
  close(): void;
  handler_AUTH(command: Buffer, callback: () => void): void;
  handler_EHLO(command: Buffer, callback: () => void): void;
  /** Every command line from the parser (its stream's _write) goes through this. */
  _onCommand(command: Buffer, callback: () => void): void;
  /** STARTTLS: wraps _socket in TLS, after removeAllListeners() on the plaintext socket. */
  upgrade(...args: unknown[]): void;
  _nextHandler: ((line: Buffer, callback: () => void) => void) | false;
  /** The greeting is out / STARTTLS in progress (plaintext pipelined behind it is dropped). */
  _ready: boolean;
  _upgrading: boolean;
  _socket: net.Socket;
  _parser: SmtpParser | false;
  _closed: boolean;
  /** close() ran (our 421 and FIN): nothing more reaches the client, though its side may still be open. */
  _closing: boolean;
  _closeTimer?: NodeJS.Timeout;
}

/** What the AUTH code may do with a client connection (no smtp-server types leak out). */
export interface SmtpClient {
  readonly id: string;
  readonly secure: boolean;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** The name the client gave in EHLO/HELO. */
  readonly helo: string | undefined;
  readonly gone: boolean;
  /** State that lives as long as the connection (one object per connection). */
  readonly state: ConnectionState;
  /** One reply line, written as given (we put enhanced status codes in ourselves). */
  reply(code: number, text: string): void;
  /** Sends `334 prompt` and resolves with the client's next line (without CRLF). */
  continuation(prompt: string): Promise<string>;
  /** Ends the AUTH command: smtp-server reads the next command. */
  done(): void;
  /** Closes politely (after a final reply). */
  close(): void;
  /** Closes at once, without a reply (when even a reply failed). */
  abort(): void;
  /**
   * Takes the socket away from smtp-server for the splice. Call after the 235 reply.
   * `then` gets it with `early`: what the client pipelined behind AUTH, still unread by
   * smtp-server; it is the backend's now, in order before anything read from `socket` later.
   * Called once, in this turn or (a long pipeline) a later one; `socket` may have closed by then.
   */
  takeOver(then: (socket: net.Socket, early: Buffer) => void): void;
}

export type AuthHandler = (client: SmtpClient, command: string) => void;

export interface SmtpFrontOptions {
  readonly implicitTls: boolean;
  /** Client-facing certificates; read at each accept, so a reloaded certificate is used by new connections. */
  readonly tlsContext: ServerTlsSource | null;
  readonly allowPlaintextAuth: boolean;
  readonly serverOptions: SMTPServerOptions;
  readonly onAuth: AuthHandler;
  /** A fault (a throw in our hooks or in smtp-server's command dispatch) ends that connection and is reported here. */
  readonly onFault: (err: unknown, where: string) => void;
}

export interface SmtpFront {
  readonly server: SMTPServer;
  /** Hands an accepted socket (already TLS for implicit TLS) to smtp-server, with the client's address. */
  accept(socket: net.Socket, peer?: { address: string; port: number; localAddress: string; localPort: number }, loggedIn?: () => void, deadlineMs?: number): void;
  /** Updates what EHLO advertises (backend features may be learnt after start-up). */
  setOptions(options: Partial<SMTPServerOptions>): void;
  /** Shutdown: `421 4.3.2` and close for every connection smtp-server still has (none is logged in). */
  closeAll(): void;
}

export function createSmtpFront(opts: SmtpFrontOptions): SmtpFront {
  const server = new SMTPServer({
    ...opts.serverOptions,
    secure: opts.implicitTls,
    logger: false,
    useXClient: false, // never accept XCLIENT/XFORWARD from clients (REFERENCE)
    useXForward: false,
    hideREQUIRETLS: true,
    // SNI for STARTTLS goes through smtp-server's _resolveSNI to this public option.
    ...(opts.tlsContext ? { SNICallback: opts.tlsContext.SNICallback } : {}),
  } as SMTPServerOptions);
  // The default context for STARTTLS: smtp-server reads secureContext.get('*') at upgrade
  // time; refreshed at each accept so a reloaded certificate reaches new connections.
  const refreshTls = (): void => {
    if (opts.tlsContext) server.secureContext.set('*', opts.tlsContext.context);
  };
  refreshTls();
  server.on('error', () => undefined); // socket errors are the session's business; see the auth code

  const accept = (socket: net.Socket, peer?: { address: string; port: number; localAddress: string; localPort: number }, loggedIn?: () => void, deadlineMs?: number): void => {
    // Before AUTH a client's FIN ends the session (smtp-server never ends its side of a
    // half-open socket); takeOver() turns half-close back on for the splice.
    socket.allowHalfOpen = false;
    // The 'close' hooks already on the socket are ours (the connection-limit slot).
    const ownCloseHooks = socket.listeners('close') as Array<() => void>;
    const before = new Set(server.connections);
    refreshTls();
    server.connect(socket, peer ? { remoteAddress: peer.address, remotePort: peer.port, localAddress: peer.localAddress, localPort: peer.localPort } : null);
    for (const c of server.connections) {
      if (before.has(c)) continue;
      const conn = c as unknown as ConnectionInternals;
      // smtp-server's socketTimeout is an idle timeout: a client trickling a byte a second
      // never trips it. This deadline, from accept to AUTH success, does.
      const timer = deadlineMs ? setTimeout(() => {
        if (conn._closed) return;
        conn.send(421, '4.4.2 Login timeout, closing connection', false);
        conn.close();
      }, deadlineMs) : undefined;
      const clearDeadline = (): void => clearTimeout(timer);
      socket.once('close', clearDeadline);
      keepCloseHooks(conn, socket, [...ownCloseHooks, clearDeadline]);
      const onLogin = (): void => {
        clearTimeout(timer);
        loggedIn?.();
      };
      states.set(conn, { failures: 0, loggedIn: onLogin });
      wire(conn, opts);
    }
  };
  const setOptions = (o: Partial<SMTPServerOptions>): void => {
    Object.assign((server as unknown as { options: SMTPServerOptions }).options, o);
  };
  const closeAll = (): void => {
    for (const c of server.connections as unknown as Set<ConnectionInternals>) {
      if (c._closed) continue;
      c.send(421, '4.3.2 Service shutting down, please reconnect', false);
      c.close();
    }
  };
  return { server, accept, setOptions, closeAll };
}

/**
 * smtp-server's STARTTLS upgrade() calls removeAllListeners() on the plaintext socket. That
 * would drop our 'close' hooks with it: the connection-limit slot would never be released
 * (after MAX_CONNECTIONS_PER_IP STARTTLS sessions the client's IP was refused for good) and
 * the login deadline timer would outlive the connection. They are put back after it.
 */
function keepCloseHooks(c: ConnectionInternals, socket: net.Socket, hooks: ReadonlyArray<() => void>): void {
  const upgrade = c.upgrade;
  c.upgrade = function (...args) {
    upgrade.apply(c, args);
    const present = socket.listeners('close');
    for (const h of hooks) if (!present.includes(h)) socket.once('close', h);
  };
}

/** `fn` with a throw turned into the end of this connection: reported once, `421 4.3.0`, closed. */
function guard<A extends unknown[]>(c: ConnectionInternals, opts: SmtpFrontOptions, where: string, fn: (...args: A) => void): (...args: A) => void {
  return contained(fn, (err) => {
    opts.onFault(err, where);
    if (c._closed) return c._socket.destroy();
    c.send(...REPLY.internalError, false);
    c.close();
  });
}

function wire(c: ConnectionInternals, opts: SmtpFrontOptions): void {
  // smtp-server catches a throw in a command handler itself (451, connection kept); what it
  // does before the handler runs would escape into the socket's data pipe and end the process.
  const onCommand = c._onCommand.bind(c);
  c._onCommand = guard(c, opts, 'command', (command: Buffer, callback: () => void) => {
    // smtp-server's own HTTP check (same place: after "upgrading" and "too soon") wants a "/"
    // target: CONNECT host:443 (RFC 9110 §9.3.6) got 500 and was read on. Ended as elsewhere.
    if (c._ready && !c._upgrading && !c._nextHandler && isHttpRequest(command)) return c.send(421, 'HTTP requests not allowed');
    onCommand(command, callback);
  });
  const ehlo = c.handler_EHLO;
  c.handler_EHLO = guard(c, opts, 'EHLO', function (command: Buffer, callback: () => void) {
    if (!c.secure && !opts.allowPlaintextAuth) {
      // RFC 3207 §4 / Postfix smtpd_tls_auth_only: no AUTH offered before TLS.
      const send = c.send;
      c.send = (code, data, context) => {
        c.send = send;
        send.call(c, code, Array.isArray(data) ? data.filter((l) => !/^AUTH /.test(l)) : data, context);
      };
    }
    ehlo.call(c, command, callback);
  });
  c.handler_AUTH = guard(c, opts, 'AUTH', (command: Buffer, callback: () => void) => {
    opts.onAuth(client(c, callback), command.toString('latin1'));
  });
}

/** Lives as long as the connection: failed logins so far (the login flow's budget), and the connection-limit login hook. */
export interface ConnectionState { failures: number; readonly loggedIn?: () => void }

const states = new WeakMap<ConnectionInternals, ConnectionState>();

function client(c: ConnectionInternals, firstCallback: () => void): SmtpClient {
  let state = states.get(c);
  if (!state) states.set(c, (state = { failures: 0 }));
  let pending: (() => void) | null = firstCallback;
  const release = (): void => {
    const cb = pending;
    pending = null;
    cb?.();
  };
  return {
    id: c.id,
    get secure() { return c.secure; },
    remoteAddress: c.remoteAddress,
    remotePort: c.remotePort,
    localAddress: c.localAddress,
    localPort: c.localPort,
    helo: c.hostNameAppearsAs || undefined,
    // Closed by us (a 421 of the login deadline or the drain) counts as gone: the client was told goodbye.
    get gone() { return c._closed || c._closing || c._socket.destroyed; },
    state,
    reply(code, text) {
      c.send(code, text, false);
    },
    continuation(prompt) {
      return new Promise((resolve) => {
        c._nextHandler = (line, callback) => {
          pending = callback;
          resolve(line.toString('latin1'));
        };
        c.send(334, prompt, false);
        release();
      });
    },
    done: release,
    close() {
      release();
      c.close();
    },
    abort() {
      c._socket.destroy();
    },
    takeOver(then) {
      const socket = c._socket;
      c._closed = true; // smtp-server's own close and error handling becomes a no-op
      clearTimeout(c._closeTimer);
      (c as unknown as { _server: SMTPServer })._server.connections.delete(c as never);
      socket.setTimeout(0);
      socket.removeAllListeners('timeout');
      socket.allowHalfOpen = true; // the splice passes a FIN on as a FIN
      takeParsedLines(socket, c._parser, release, (early) => then(socket, early));
    },
  };
}
