// The SCIM listener (LISTEN_SCIM): plain HTTP on node:http, meant for the internal network
// the IdP reaches the proxy on (or a TLS-terminating reverse proxy in front). Every request
// needs `Authorization: Bearer <SCIM_TOKEN>`, compared in constant time and never logged.
// Bodies are bounded (MAX_SCIM_BODY_BYTES) and so are header and request times.
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { parseRequestTarget, targetForLog } from '../net/request-target.js';
import { refuseTunnels } from '../net/http-tunnels.js';
import { reportFault } from '../observability/faults.js';
import { ScimError, badRequest } from './errors.js';
import { route } from './router.js';
import type { DmsUserStore } from './store/user-store.js';
import { LogThrottle } from '../observability/log-throttle.js';
import { MAX_HTTP_CONNECTIONS, MAX_SCIM_BODY_BYTES, REFUSAL_LOG_MAX_CLIENTS, REFUSAL_LOG_WINDOW_MS, SCIM_HEADERS_TIMEOUT_MS, SCIM_KEEPALIVE_MS, SCIM_REQUEST_TIMEOUT_MS } from '../limits.js';

export const BASE_PATH = '/scim/v2';
const CONTENT_TYPE = 'application/scim+json; charset=utf-8';

export interface ScimListener {
  readonly name: 'scim';
  address(): AddressInfo;
  close(): Promise<void>;
}

export interface ScimServerOptions {
  readonly listen: ListenAddress;
  readonly token: string;
  readonly store: DmsUserStore;
  readonly log: Logger;
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** What every request of one listener shares. */
interface Listener {
  readonly store: DmsUserStore;
  /** SHA-256 of the token: compared in constant time. */
  readonly expected: Buffer;
  readonly log: Logger;
  /** The scim-auth-failed lines: what anyone who reaches the port can cause, bounded as the mail ports' refusals are. */
  readonly refusals: LogThrottle;
}

export async function startScim(opts: ScimServerOptions): Promise<ScimListener> {
  const log = opts.log.child({ listener: 'scim' });
  const at: Listener = { store: opts.store, expected: digest(opts.token), log, refusals: new LogThrottle(REFUSAL_LOG_WINDOW_MS, REFUSAL_LOG_MAX_CLIENTS) };
  const server = http.createServer((req, res) => {
    void respond(req, res, at).catch((err: unknown) => internalError(req, res, log, err));
  });
  refuseTunnels(server, 'GET, POST, PUT, PATCH, DELETE');
  server.headersTimeout = opts.headersTimeoutMs ?? SCIM_HEADERS_TIMEOUT_MS;
  server.requestTimeout = opts.requestTimeoutMs ?? SCIM_REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = SCIM_KEEPALIVE_MS;
  // Nothing moves either way this long (a client that never reads its replies): closed.
  server.timeout = server.requestTimeout;
  server.maxConnections = MAX_HTTP_CONNECTIONS; // closed at accept beyond this (limits.ts says why)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.listen.host, port: opts.listen.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    name: 'scim',
    address: () => server.address() as AddressInfo,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** One request: a client's mistake is a SCIM error response; anything else rejects (internalError). */
async function respond(req: http.IncomingMessage, res: http.ServerResponse, at: Listener): Promise<void> {
  const { log } = at;
  const started = performance.now();
  // Read now: once a refused body's request is destroyed, req.socket is null.
  const remote = req.socket.remoteAddress;
  const seen = { authenticated: false };
  try {
    await handle(req, res, at, seen);
  } catch (err) {
    if (!(err instanceof ScimError)) throw err;
    send(res, err.status, err.body(), err.status === 401 ? { 'www-authenticate': 'Bearer realm="scim"' } : {});
    if (err.status === 413 || req.readableAborted) res.once('finish', () => req.destroy());
  }
  const entry = { event: 'scim-request', method: req.method, path: targetForLog(req.url), status: res.statusCode, ms: Math.round(performance.now() - started), remote };
  // Only an authenticated client's changes and refusals are worth info: what anyone on the
  // network can send (malformed targets, wrong paths, no token) stays at debug, so it cannot
  // flood the log (a refused token has its own scim-auth-failed line).
  if (seen.authenticated && !(req.method === 'GET' && res.statusCode < 400)) log.info(entry, 'SCIM request');
  else log.debug(entry, 'SCIM request');
}

function internalError(req: http.IncomingMessage, res: http.ServerResponse, log: Logger, err: unknown): void {
  try {
    reportFault(log, 'scim', `${req.method ?? '?'} ${targetForLog(req.url)}`, err);
    if (res.headersSent) res.destroy();
    else send(res, 500, new ScimError(500, 'internal error').body(), {});
  } catch {
    res.destroy();
  }
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, at: Listener, seen: { authenticated: boolean }): Promise<void> {
  const target = parseRequestTarget(req.url);
  if (!target) throw badRequest('invalidSyntax', 'malformed request target');
  if (target.path !== BASE_PATH && !target.path.startsWith(`${BASE_PATH}/`)) throw new ScimError(404, `not under ${BASE_PATH}`);
  // Authentication before anything else, including reading the body.
  const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
  if (!m || !timingSafeEqual(digest(m[1]!), at.expected)) {
    const reason = m ? 'wrong token' : 'no bearer token';
    const suppressed = at.refusals.pass(`${reason} ${req.socket.remoteAddress}`);
    if (suppressed !== undefined) at.log.warn({ event: 'scim-auth-failed', remote: req.socket.remoteAddress, reason, ...(suppressed > 0 ? { suppressed } : {}) }, 'SCIM request refused');
    throw new ScimError(401, 'a valid bearer token is required');
  }
  seen.authenticated = true;
  const body = ['POST', 'PUT', 'PATCH'].includes(req.method ?? '') ? await readJson(req) : undefined;
  const proto = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
  const base = `${proto}://${req.headers.host ?? 'localhost'}${BASE_PATH}`;
  const r = await route(at.store, { method: req.method ?? 'GET', path: target.path.slice(BASE_PATH.length) || '/', query: target.query, body, base });
  send(res, r.status, r.body, r.location ? { location: r.location } : {});
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type && type !== 'application/scim+json' && type !== 'application/json') {
    throw new ScimError(415, `Content-Type ${type} is not supported (application/scim+json)`);
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_SCIM_BODY_BYTES) throw new ScimError(413, `request body over ${MAX_SCIM_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_SCIM_BODY_BYTES) throw new ScimError(413, `request body over ${MAX_SCIM_BODY_BYTES} bytes`);
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof ScimError) throw err;
    // The client went away mid-body ("aborted", ECONNRESET): its doing, not ours.
    throw badRequest('invalidSyntax', 'the request body ended early');
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw badRequest('invalidSyntax', 'the request body is empty');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest('invalidSyntax', 'the request body is not valid JSON');
  }
}

function send(res: http.ServerResponse, status: number, body: Record<string, unknown> | undefined, headers: Record<string, string>): void {
  if (res.headersSent) return;
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(text), ...headers }).end(text);
}
