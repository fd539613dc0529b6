// The operations HTTP listener (LISTEN_HTTP): GET /metrics (Prometheus text format),
// /healthz (alive) and /readyz (ready for new connections; 503 with the failing checks).
// Nothing else: no secrets, no configuration, no mail data.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { Health } from './health.js';
import type { Metrics } from '../observability/metrics.js';
import { listenOn } from '../net/listen.js';
import { refuseTunnels } from '../net/http-tunnels.js';
import { parseRequestTarget, targetForLog } from '../net/request-target.js';
import { reportFault } from '../observability/faults.js';
import { MAX_HTTP_CONNECTIONS, OPS_HTTP_HEADERS_TIMEOUT_MS, OPS_HTTP_KEEPALIVE_MS, OPS_HTTP_REQUEST_TIMEOUT_MS } from '../limits.js';

export interface HttpListener {
  readonly server: http.Server;
  address(): AddressInfo;
  close(): Promise<void>;
}

export async function startOpsHttp(at: ListenAddress, deps: { health: Health; metrics: Metrics; log: Logger }): Promise<HttpListener> {
  deps.metrics.enableDefaultMetrics();
  const server = http.createServer((req, res) => {
    void handle(req, res, deps).catch((err: unknown) => {
      try {
        reportFault(deps.log, 'http', `${req.method ?? '?'} ${targetForLog(req.url)}`, err);
        if (res.headersSent) return void res.destroy();
        res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error\n');
      } catch {
        res.destroy();
      }
    });
  });
  refuseTunnels(server, 'GET, HEAD');
  server.requestTimeout = OPS_HTTP_REQUEST_TIMEOUT_MS;
  server.headersTimeout = OPS_HTTP_HEADERS_TIMEOUT_MS;
  server.keepAliveTimeout = OPS_HTTP_KEEPALIVE_MS;
  // Nothing moves either way this long (a client that never reads its replies): closed.
  server.timeout = OPS_HTTP_REQUEST_TIMEOUT_MS;
  server.maxConnections = MAX_HTTP_CONNECTIONS; // closed at accept beyond this (limits.ts says why)
  await listenOn(server, at);
  return {
    server,
    address: () => server.address() as AddressInfo,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, deps: { health: Health; metrics: Metrics; log: Logger }): Promise<void> {
  const target = parseRequestTarget(req.url);
  if (!target) {
    // Anyone who can reach the port can send this: a 400, and nothing above debug.
    deps.log.debug({ event: 'http-bad-request', path: targetForLog(req.url) }, 'malformed request target');
    res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request\n');
    return;
  }
  const { path } = target;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  switch (path) {
    case '/metrics': {
      const body = await deps.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': deps.metrics.registry.contentType }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    case '/healthz':
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    case '/readyz': {
      const r = await deps.health.readiness();
      res.writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(r)}\n`);
      return;
    }
    default:
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}
