// A TCP listener that hands each accepted socket, with the client's address, to a session
// factory. With PROXY protocol configured, connections from trusted networks must start
// with a PROXY header, whose source address is then the client address everywhere (logs,
// limits, backend). Implicit TLS is started by the session (same path as STARTTLS), so
// this stage can read before TLS.
//
// Every socket is handed on paused, whether or not a PROXY header was read from it: a
// stream paused by pause() does not start flowing when a 'data' listener is added, so a
// session that relied on that worked without a balancer and heard nothing behind one (143
// with PROXY protocol got its greeting and no reply to any command). With one state for
// both paths, the session starts reading explicitly (resume(), pipe(), or TLS, which reads
// the handle and the bytes put back itself), and a session that forgets fails every test.
import net from 'node:net';
import type { ListenAddress } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { peerOf, SocketPeer, type Peer } from './peer.js';
import { readProxyHeader, type ProxyHeaderError } from './proxy-reader.js';
import { isTrusted } from './trusted-networks.js';
import { reportFault, type FaultSite } from '../observability/faults.js';

export interface Listener {
  readonly name: string;
  readonly server: net.Server;
  address(): net.AddressInfo;
  /** Stops accepting; resolves once every connection it accepted has closed. */
  close(): Promise<void>;
  /** Destroys every connection still open (the end of a shutdown: clients that never closed after our last word). */
  destroyConnections(): void;
}

export interface ProxyProtocolIn {
  readonly trusted: net.BlockList;
  readonly timeoutMs: number;
  readonly log: Logger;
}

/** `socket` is paused; bytes read after a PROXY header are in its buffer. The callee starts reading. */
export type OnConnection = (socket: net.Socket, peer: Peer) => void;

export interface ListenOptions {
  readonly proxy?: ProxyProtocolIn | null;
  /** Where a fault in `onConnection` is reported (it ends that connection, never the process). */
  readonly faults: { readonly log: Logger; readonly site: FaultSite };
}

export async function listen(name: string, at: ListenAddress, handler: OnConnection, opts: ListenOptions): Promise<Listener> {
  const { proxy } = opts;
  const onConnection = (socket: net.Socket, peer: Peer): void => {
    try {
      handler(socket, peer);
    } catch (err) {
      reportFault(opts.faults.log, opts.faults.site, `${name} accept`, err);
      socket.destroy();
    }
  };
  // Every accepted socket until it closes, so a shutdown can end the ones that outstay it
  // (net.Server keeps no list): a Set entry and one shared listener per connection.
  const open = new Set<net.Socket>();
  function forget(this: net.Socket): void {
    open.delete(this);
  }
  const track = (socket: net.Socket): void => {
    open.add(socket);
    socket.on('close', forget);
    // A peer's RST on a socket nobody listens to would be an unhandled 'error' and end the
    // process; sessions add their own handlers, this one keeps refused sockets harmless.
    socket.on('error', ignore);
  };
  // Behind a balancer a connection reaches its session only once its header is in: one the
  // listener accepted just before close() (a shutdown's drain) would be greeted after the
  // drain told every session to go, and hold it to the end of the grace. Those still waiting
  // are closed at close(), and a header that completes after it is not handed on.
  const awaitingHeader = new Set<net.Socket>();
  let stopped = false;
  const onSocket = (socket: net.Socket): void => {
    if (!proxy) {
      // The handler first: a plaintext greeting goes out before this bookkeeping and the
      // local end's system call. Every event of the socket comes later (a destroy() in the
      // handler emits 'close' and 'error' on a later tick), so the listeners below hear them.
      // The peer's local end is read through getters: consumers copy a Peer field by field
      // (see SocketPeer).
      const peer = new SocketPeer(socket);
      onConnection(socket, peer);
      track(socket);
      if (!socket.destroyed) peer.readLocal();
      return;
    }
    track(socket);
    const direct = peerOf(socket);
    if (!isTrusted(proxy.trusted, direct.address)) return onConnection(socket, direct);
    awaitingHeader.add(socket);
    readProxyHeader(socket, proxy.timeoutMs).then(
      (h) => {
        awaitingHeader.delete(socket);
        // Stopped meanwhile (a shutdown's drain): never greeted, as if never accepted.
        if (stopped) return void socket.destroy();
        onConnection(socket, h.local || !h.source || !h.destination ? direct : {
          address: h.source.address, port: h.source.port, localAddress: h.destination.address, localPort: h.destination.port,
        });
      },
      (err: ProxyHeaderError) => {
        // A health check's connect-and-close is not a bad header (test/adversary/proxy-health-check-log.test.ts).
        awaitingHeader.delete(socket);
        if (err.silentClose || stopped) proxy.log.debug({ event: 'proxy-header-none', listener: name, from: direct.address }, 'closed before sending anything');
        else proxy.log.warn({ event: 'proxy-header-invalid', listener: name, from: direct.address, reason: err.message }, 'bad PROXY protocol header');
        socket.destroy();
      },
    );
  };
  // allowHalfOpen: a client's FIN must reach the backend as a FIN, not close our side.
  // pauseOnConnect: nothing is read until a stage asks (see the top of this file).
  const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, onSocket);
  await listenOn(server, at);
  return {
    name,
    server,
    address: () => server.address() as net.AddressInfo,
    close: () => {
      stopped = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of awaitingHeader) s.destroy();
      return closed;
    },
    destroyConnections: () => {
      for (const s of open) s.destroy();
    },
  };
}

/** One shared 'error' listener for every accepted socket (a closure per socket bought nothing). */
function ignore(): void {}

/** Binds a server (mail or HTTP) and resolves once it listens, or rejects with the bind error. */
export function listenOn(server: net.Server, at: ListenAddress): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Binds each listener in turn (undefined: that one is off). When one cannot bind (its port
 * taken), the ones already bound are closed, with any connection they accepted meanwhile,
 * before the error goes on, so a failed start leaves no port open and nothing keeping the
 * process alive.
 */
export async function listenAll(binds: ReadonlyArray<(() => Promise<Listener>) | undefined>): Promise<Listener[]> {
  const bound: Listener[] = [];
  try {
    for (const bind of binds) if (bind) bound.push(await bind());
  } catch (err) {
    // close() waits for the connections a listener accepted: one that came in between (it
    // was greeted, its port was live) would hold the failed start until it left.
    const closing = Promise.all(bound.map((l) => l.close()));
    for (const l of bound) l.destroyConnections();
    await closing;
    throw err;
  }
  return bound;
}
