// The portal listener on its own (src/portal/server.ts), on port 0 with a throw-away
// certificate and deps the test fills in (a fake IdP, a store that fails): what the portal
// adversary and unit tests start, without the proxy, backend or IdP of test/harness/portal.ts.
// Requests go over raw TLS with rawHttps() (test/harness/raw-http.ts).
import tls from 'node:tls';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { PortalDeps } from '../../src/portal/routes.js';
import { portalConnections, startPortalListener } from '../../src/portal/server.js';
import { PortalSessions } from '../../src/portal/sessions.js';
import { sealLogin } from '../../src/portal/login-seal.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import type { ProxyProtocolIn } from '../../src/net/listen.js';
import type { ConnectionLimiter } from '../../src/net/connection-limits.js';
import { makeCerts } from './certs.js';

export const PORTAL_ORIGIN = 'https://portal.example.test';

/** A logger at `level` whose lines are parsed into `lines`, for assertions on event names. */
export function captureLog(level = 'info'): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger(level, new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  }));
  return { log, lines };
}

let context: Promise<tls.SecureContext> | undefined;

/** One certificate for every portal a test file starts (made once; the files are removed once read). */
function portalContext(): Promise<tls.SecureContext> {
  context ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'o2mp-portal-listener-'));
    try {
      const certs = await makeCerts(dir);
      return tls.createSecureContext({ cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return context;
}

export interface TestPortal {
  readonly port: number;
  /** The deps the listener was given: the defaults with the test's own on top. */
  readonly deps: PortalDeps;
  readonly connections: ConnectionLimiter;
}

/**
 * A portal listener on 127.0.0.1:0, closed at `t`'s teardown. `over` replaces any of the
 * defaults (config for PORTAL_ORIGIN, fresh sessions, nobody disabled, an info logger that
 * writes nowhere); what the routes need beyond that (oidc, store, decide) the test gives.
 */
export async function startTestPortal(
  t: { teardown(fn: () => unknown): void },
  over: Partial<PortalDeps> = {},
  opts: { maxConnectionsPerIp?: number; proxyIn?: ProxyProtocolIn | null } = {},
): Promise<TestPortal> {
  const ctx = await portalContext();
  const deps = {
    config: {
      listen: { host: '127.0.0.1', port: 0 }, origin: PORTAL_ORIGIN, redirectUri: `${PORTAL_ORIGIN}/callback`,
      clientId: 'portal', clientSecret: '', issuer: 'https://idp.example.test', scopes: ['openid'], sessionTtlMs: 60_000,
    },
    sessions: new PortalSessions(60_000),
    disabledReason: () => undefined,
    log: captureLog().log,
    ...over,
  } as unknown as PortalDeps;
  const connections = portalConnections({ maxConnectionsPerIp: opts.maxConnectionsPerIp ?? 100, ipv6ClientPrefix: 64 });
  const listener = await startPortalListener({ host: '127.0.0.1', port: 0 }, { context: ctx, SNICallback: (_n, cb) => cb(null, ctx) },
    opts.proxyIn ?? null, connections, deps);
  t.teardown(() => listener.close());
  return { port: listener.address().port, deps, connections };
}

/** A form POST (or any method) as a signed-in browser on `origin` sends it, with `Connection: close`. */
export function portalForm(method: string, path: string, sid: string, body = '', origin = PORTAL_ORIGIN): string {
  return `${method} ${path} HTTP/1.1\r\nHost: portal.example.test\r\nConnection: close\r\nCookie: __Host-omp-session=${sid}\r\n`
    + `Origin: ${origin}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** An IdP's authorization step that needs no IdP: a fixed state, nonce and verifier (oidc.begin). */
export const fakeBegin = async (): Promise<Awaited<ReturnType<PortalDeps['oidc']['begin']>>> => ({
  url: 'https://idp.example.test/auth?state=S'.padEnd(60, 'S'),
  login: { state: 'S'.padEnd(43, 'S'), nonce: 'N'.repeat(43), verifier: 'V'.repeat(43) },
});

/**
 * GET /callback with a made-up code, the state of `deps.oidc.begin()` and its sealed sign-in
 * cookie, as the browser comes back from the IdP: it reaches the code exchange (oidc.finish).
 * No `Connection: close`.
 */
export async function callbackRequest(deps: PortalDeps): Promise<string> {
  const { login } = await deps.oidc.begin();
  const cookie = sealLogin(await deps.sessions.sealKey(), login, Date.now() + 60_000);
  return `GET /callback?code=made-up&state=${login.state} HTTP/1.1\r\nHost: portal.example.test\r\nCookie: __Host-omp-login=${cookie}\r\n\r\n`;
}
