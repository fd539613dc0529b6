// The portal listener (LISTEN_PORTAL): HTTPS with the client-facing certificates, the same
// CertificateStore the mail ports use (renewals picked up, SNI), behind PROXY protocol when
// configured. TLS is started per connection with the context current now, and the TLS
// socket handed to a node:http server. Headers, bodies and times are bounded; a request
// that breaks a rule gets a 4xx, one that trips a bug a 500, and the process goes on.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Config, ListenAddress } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { ProxyProtocolIn } from '../net/listen.js';
import type { Peer } from '../net/peer.js';
import { listen, type Listener } from '../net/listen.js';
import { refuseTunnels } from '../net/http-tunnels.js';
import { ConnectionLimiter } from '../net/connection-limits.js';
import { refusalLog, withinLimits } from '../session/admission.js';
import { startServerTls, type ServerTlsSource } from '../net/tls-context.js';
import { reportFault } from '../observability/faults.js';
import { send } from './headers.js';
import { messagePage } from './html.js';
import { outageLog, route, type PortalDeps } from './routes.js';
import { PORTAL_HEADERS_TIMEOUT_MS, PORTAL_KEEPALIVE_MS, PORTAL_MAX_CONNECTIONS, PORTAL_MAX_HEADER_BYTES, PORTAL_MAX_PIPELINED, PORTAL_REQUEST_TIMEOUT_MS } from '../limits.js';

export interface PortalListener {
  readonly name: 'portal';
  address(): AddressInfo;
  close(): Promise<void>;
}

/**
 * `connections`: the portal's own open-connection counts (portalConnections()), apart from
 * the mail ports', so neither side's clients can use up the other's.
 */
export async function startPortalListener(at: ListenAddress, tls: ServerTlsSource, proxyIn: ProxyProtocolIn | null, connections: ConnectionLimiter, deps: PortalDeps): Promise<PortalListener> {
  const log: Logger = deps.log;
  const peerOf = new WeakMap<Socket, Peer>();
  // The request being served on each connection: node:http hands every pipelined request to
  // the handler as soon as it is parsed (it queues only the responses), so without this one
  // write of a few hundred requests (GET /callback with a made-up code, each a request to the
  // IdP's token endpoint) would run them all at once. One at a time per connection keeps a
  // client to its MAX_CONNECTIONS_PER_IP share.
  // Per connection, `turn`: settles when its last request is done; `queued`: its requests in or
  // waiting for their turn, at most PORTAL_MAX_PIPELINED.
  const lanes = new WeakMap<Socket, { turn: Promise<void> | undefined; queued: number }>();
  const refusals = refusalLog();
  const outages = outageLog();
  const serve = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (req.socket?.destroyed !== false) return; // the client is gone (or timed out): nothing to answer
    const peer = peerOf.get(req.socket) ?? { address: '?', port: 0, localAddress: '?', localPort: 0 };
    await route(req, deps, peer, outages).then((reply) => {
      send(res, reply);
      // A body we did not read (refused before reading) must not be parsed as the next request.
      if (!req.complete) res.once('finish', () => req.destroy());
    }).catch((err: unknown) => {
      try {
        reportFault(log, 'portal', `${req.method ?? '?'} ${(req.url ?? '').split('?')[0]!.slice(0, 100)}`, err);
        if (res.headersSent) res.destroy();
        else send(res, { status: 500, html: messagePage('Internal error', 'Something went wrong on our side.') });
      } catch {
        res.destroy();
      }
    });
  };
  const server = http.createServer({
    maxHeaderSize: PORTAL_MAX_HEADER_BYTES, requestTimeout: PORTAL_REQUEST_TIMEOUT_MS, headersTimeout: PORTAL_HEADERS_TIMEOUT_MS,
    // How often those two are enforced (node's default, 30 s, would let a stalled handshake sit that long).
    connectionsCheckingInterval: PORTAL_KEEPALIVE_MS,
  }, (req, res) => {
    // Waiting requests are counted: node:http stops reading a connection only when its answers
    // pile up unsent, and these are not answered until their turn.
    const socket = req.socket; // req.socket is gone once the request is done with
    const lane = lanes.get(socket) ?? { turn: undefined, queued: 0 };
    if (lane.queued + 1 > PORTAL_MAX_PIPELINED) return void socket.destroy();
    lane.queued += 1;
    lanes.set(socket, lane);
    // The connection's first request is served at once; each later one when the one before is done.
    lane.turn = (lane.turn ? lane.turn.then(() => serve(req, res)) : serve(req, res)).catch(() => undefined)
      .then(() => { lane.queued -= 1; });
  });
  refuseTunnels(server, 'GET, HEAD, POST');
  server.keepAliveTimeout = PORTAL_KEEPALIVE_MS;
  const listener: Listener = await listen('portal', at, (socket, peer) => {
    // Over the portal's limits (in total, and per client: the PROXY header's address when
    // behind a balancer): closed at accept, one log line, as the mail ports do.
    if (typeof withinLimits({ connections, log, refusals }, socket, peer.address) === 'string') return void socket.destroy();
    const secure = startServerTls(socket, tls);
    secure.on('error', () => undefined); // a failed handshake or a reset: that client's problem
    peerOf.set(secure, peer);
    server.emit('connection', secure);
  }, { proxy: proxyIn, faults: { log, site: 'portal' } });
  return {
    name: 'portal',
    address: () => listener.address(),
    close: async () => {
      server.closeAllConnections();
      listener.destroyConnections();
      await listener.close();
    },
  };
}

/**
 * The portal's connection limits: PORTAL_MAX_CONNECTIONS in total, and per client the
 * MAX_CONNECTIONS_PER_IP the mail ports allow (IPv6 by IPV6_CLIENT_PREFIX), counted apart
 * from theirs. Nobody logs in on a connection here, so the before-login bound is the total.
 */
export function portalConnections(limits: Pick<Config['limits'], 'maxConnectionsPerIp' | 'ipv6ClientPrefix'>): ConnectionLimiter {
  return new ConnectionLimiter({
    maxTotal: PORTAL_MAX_CONNECTIONS,
    maxPerIp: limits.maxConnectionsPerIp,
    maxPreauth: PORTAL_MAX_CONNECTIONS,
    ipv6PrefixBits: limits.ipv6ClientPrefix,
  });
}
