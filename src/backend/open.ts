// The opening every Dovecot login shares (IMAP, POP3, ManageSieve): TCP with a deadline, the
// PROXY v2 header, implicit TLS or STARTTLS, the greeting; and the one LoginTimer that bounds
// the whole login, so a backend that accepts but never answers is cut. The protocol says only
// how its greeting and its STARTTLS read.
import type net from 'node:net';
import { connectTcp, startClientTls, type BackendTlsOptions } from './dial.js';
import { LineReader } from './line-reader.js';
import { proxyHeaderFor, type ClientAddress } from './client-address.js';
import { encodeProxyV2Local } from '../net/proxy-protocol.js';
import { LoginTimer } from './login-timer.js';
import type { BackendLoginResult } from './login-result.js';

/** Where and how to reach one Dovecot service. */
export interface BackendEndpoint {
  readonly host: string;
  readonly port: number;
  readonly tls: 'starttls' | 'implicit' | 'none';
  readonly tlsOptions: BackendTlsOptions;
  readonly timeoutMs: number;
  /** Send a PROXY v2 header first (Dovecot listener with haproxy = yes). */
  readonly proxyProtocol?: boolean;
}

/** How one protocol opens. `G`: what it keeps of the greeting (capabilities, a flag). */
export interface Opening<G> {
  /** Reads and checks the greeting; throws a BackendError on anything else. */
  greeting(reader: LineReader): Promise<G>;
  /** STARTTLS up to the handshake: the command and its positive reply. */
  startTls(reader: LineReader, socket: net.Socket, greeting: G): Promise<void>;
  /** What stands for the greeting once TLS is up: read again, kept, or void (RFC 3501 §6.2.1). */
  afterTls(reader: LineReader, greeting: G): Promise<G> | G;
}

export interface OpenBackend<G> {
  readonly socket: net.Socket;
  readonly reader: LineReader;
  readonly greeting: G;
}

/** Every socket and reader as TLS replaces them, so a timer ends the current one. */
export type Track = (socket: net.Socket, reader: LineReader | null) => void;

/** Connected, TLS as configured, greeted; `client` null: a probe of our own (a PROXY LOCAL header). */
export async function openBackend<G>(at: BackendEndpoint, client: ClientAddress | null, how: Opening<G>, track: Track = () => undefined): Promise<OpenBackend<G>> {
  let socket = await connectTcp(at.host, at.port, at.timeoutMs, { reuseReads: at.tls === 'none' });
  track(socket, null);
  if (at.proxyProtocol) socket.write(client ? proxyHeaderFor(client) : encodeProxyV2Local());
  if (at.tls === 'implicit') socket = await startClientTls(socket, at.tlsOptions, at.timeoutMs);
  let reader = new LineReader(socket);
  track(socket, reader);
  let greeting = await how.greeting(reader);
  if (at.tls === 'starttls') {
    await how.startTls(reader, socket, greeting);
    reader.detach();
    socket = await startClientTls(socket, at.tlsOptions, at.timeoutMs);
    reader = new LineReader(socket);
    track(socket, reader);
    greeting = await how.afterTls(reader, greeting);
  }
  return { socket, reader, greeting };
}

/**
 * A login under one LoginTimer: when it runs out, the current reader fails and its socket is
 * destroyed; a throw (backend unreachable, broken, timed out) becomes a failure result.
 */
export async function timedLogin<Extra>(timeoutMs: number, login: (timer: LoginTimer, track: Track) => Promise<BackendLoginResult<Extra>>): Promise<BackendLoginResult<Extra>> {
  let socket: net.Socket | null = null;
  let reader: LineReader | null = null;
  const timer = new LoginTimer(timeoutMs, () => {
    reader?.fail(timer.expired());
    socket?.destroy();
  });
  try {
    return await login(timer, (s, r) => {
      socket = s;
      reader = r;
    });
  } catch (err) {
    (socket as net.Socket | null)?.destroy();
    return timer.failure(err);
  } finally {
    timer.clear(); // a refusal returns with the timer still set
  }
}
