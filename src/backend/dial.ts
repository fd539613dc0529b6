// Connections to DMS: TCP with a deadline, then TLS (implicit, or after STARTTLS) with
// certificate verification on by default.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { reusedReads } from '../net/reused-reads.js';
import { backendHosts } from './host-lookup.js';

export interface BackendTlsOptions {
  readonly verify: boolean;
  readonly servername: string;
  /** Built once (CA bundle parsed once): tls.connect({ ca }) would build one per connection. */
  readonly context: tls.SecureContext;
}

/** The TLS settings for every connection to DMS, read once at start-up. */
export function backendTlsOptions(b: { readonly tlsVerify: boolean; readonly caFile: string | null; readonly servername: string }): BackendTlsOptions {
  const ca = b.caFile ? readFileSync(b.caFile) : null;
  return {
    verify: b.tlsVerify,
    servername: b.servername,
    context: tls.createSecureContext({ minVersion: 'TLSv1.2', ...(ca ? { ca } : {}) }),
  };
}

export class BackendError extends Error {
  constructor(
    readonly code: 'ERR_BACKEND_CONNECT' | 'ERR_BACKEND_TLS' | 'ERR_BACKEND_TIMEOUT' | 'ERR_BACKEND_PROTOCOL' | 'ERR_BACKEND_CLOSED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// net.Socket() copies its options ({ ...options }) and then sets these three on the copy. On
// Node 20 a field added to such a copy takes V8's slow path and a new hidden class each time:
// ~9 µs per socket, measured (issue 21). Given here with the values it sets, nothing is added.
const SOCKET_SETS = { emitClose: false, autoDestroy: true, decodeStrings: false } as const;

/**
 * A TCP connection to DMS, started (not yet connected). `reuseReads`: read into reused buffers
 * (net/reused-reads.ts); only for a socket that stays plaintext.
 */
export function dialTcp(host: string, port: number, reuseReads: boolean): net.Socket {
  const reads = reuseReads ? reusedReads() : null;
  // A name is resolved through the shared cache (host-lookup.ts), an address is used as is.
  const socket = reads
    ? net.connect({ host, port, noDelay: true, allowHalfOpen: true, lookup: backendHosts.lookup, onread: reads.onread, ...SOCKET_SETS })
    : net.connect({ host, port, noDelay: true, allowHalfOpen: true, lookup: backendHosts.lookup, ...SOCKET_SETS });
  reads?.adopt(socket);
  return socket;
}

/** Why a connect failed; the next connect resolves the name again. */
export function connectFailed(host: string, port: number, err: Error): BackendError {
  backendHosts.forget(host);
  return new BackendError('ERR_BACKEND_CONNECT', `cannot connect to ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err });
}

/** A connect that got no answer in time; the next connect resolves the name again. */
export function connectTimedOut(host: string, port: number, timeoutMs: number): BackendError {
  backendHosts.forget(host);
  return new BackendError('ERR_BACKEND_TIMEOUT', `cannot connect to ${host}:${port}: no answer within ${timeoutMs} ms`);
}

/** `reuseReads`: read into reused buffers (net/reused-reads.ts); only for a socket that stays plaintext. */
export function connectTcp(host: string, port: number, timeoutMs: number, opts: { reuseReads?: boolean } = {}): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dialTcp(host, port, opts.reuseReads === true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(connectTimedOut(host, port, timeoutMs));
    }, timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(connectFailed(host, port, err));
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** Client-side TLS over an existing socket (implicit TLS right after connect, or after STARTTLS). */
export function startClientTls(socket: net.Socket, opts: BackendTlsOptions, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new BackendError('ERR_BACKEND_TIMEOUT', `TLS handshake with the backend took longer than ${timeoutMs} ms`));
    }, timeoutMs);
    const servername = net.isIP(opts.servername) ? undefined : opts.servername;
    const secure = tls.connect({
      socket,
      ...(servername ? { servername } : {}),
      secureContext: opts.context,
      rejectUnauthorized: opts.verify,
      // The name check must use the configured name even for an IP address host.
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(opts.servername, cert),
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      secure.destroy();
      reject(new BackendError('ERR_BACKEND_TLS', `TLS to the backend failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }));
    };
    secure.once('error', onError);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      secure.off('error', onError);
      resolve(secure);
    });
  });
}
