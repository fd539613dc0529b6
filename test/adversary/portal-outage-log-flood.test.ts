// While the IdP or the shared store is down, every portal request that needs it was one warn
// line: GET /login (portal-idp-unavailable: the failed discovery is kept, so each answer is
// an instant 503 with no IdP request) and any GET / (portal-store-unavailable) cost an
// anonymous client nothing, so one connection wrote warn lines as fast as it could send
// requests, during exactly the outage the operator is reading the log for. The portal's
// refusals of anonymous input stay at debug for this reason, and connection-refused lines
// are throttled (LogThrottle); these must be bounded the same way: the first line, then at
// most one per window carrying how many were left out.
import t from 'tap';
import tls from 'node:tls';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { PortalDeps } from '../../src/portal/routes.js';
import { portalConnections, startPortalListener } from '../../src/portal/server.js';
import { PortalSessions, PortalStoreDown } from '../../src/portal/sessions.js';
import { createLogger } from '../../src/observability/logger.js';
import { makeCerts } from '../harness/certs.js';

const dir = mkdtempSync(join(tmpdir(), 'o2mp-portal-outage-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certs = await makeCerts(dir);
const context = tls.createSecureContext({ cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) });
const lines: Array<Record<string, unknown>> = [];
const log = createLogger('info', new Writable({
  write(chunk: Buffer, _e, cb) {
    for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
    cb();
  },
}));

async function portal(over: Partial<PortalDeps>): Promise<number> {
  const deps = {
    config: {
      listen: { host: '127.0.0.1', port: 0 }, origin: 'https://portal.example.test', redirectUri: 'https://portal.example.test/callback',
      clientId: 'portal', clientSecret: '', issuer: 'https://idp.example.test', scopes: ['openid'], sessionTtlMs: 60_000,
    },
    sessions: new PortalSessions(60_000),
    disabledReason: () => undefined,
    log,
    ...over,
  } as unknown as PortalDeps;
  const listener = await startPortalListener({ host: '127.0.0.1', port: 0 }, { context, SNICallback: (_n, cb) => cb(null, context) }, null,
    portalConnections({ maxConnectionsPerIp: 100, ipv6ClientPrefix: 64 }), deps);
  t.teardown(() => listener.close());
  return listener.address().port;
}

/** `n` requests for `path` on one connection; the statuses. */
function requests(port: number, path: string, n: number): Promise<number[]> {
  const one = `GET ${path} HTTP/1.1\r\nHost: portal.example.test\r\nCookie: __Host-omp-session=${'A'.repeat(43)}\r\n\r\n`;
  const last = one.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n');
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
    let text = '';
    const done = () => { clearTimeout(timer); s.destroy(); resolve([...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))); };
    const timer = setTimeout(done, 15_000);
    s.on('secureConnect', () => s.write(one.repeat(n - 1) + last));
    s.on('data', (d: Buffer) => { text += d.toString('latin1'); });
    s.on('error', done);
    s.on('close', done);
  });
}

const count = (event: string) => lines.filter((l) => l.event === event).length;

t.test('the IdP down: 200 GET /login are 200 503s and one warn line', async (t) => {
  const port = await portal({ oidc: { begin: async () => { throw new TypeError('fetch failed'); }, finish: async () => 'x' } } as Partial<PortalDeps>);
  const statuses = await requests(port, '/login', 200);
  t.equal(statuses.length, 200);
  t.ok(statuses.every((s) => s === 503), 'each told to try again');
  t.equal(count('portal-idp-unavailable'), 1, 'one line for the outage, not one per request');
});

t.test('the session store down: 200 GET / are 200 503s and one warn line', async (t) => {
  const down = async (): Promise<never> => { throw new PortalStoreDown('connect ECONNREFUSED'); };
  const sessions = Object.assign(new PortalSessions(60_000), { get: down, sealKey: down });
  const port = await portal({ sessions });
  const statuses = await requests(port, '/', 200);
  t.equal(statuses.length, 200);
  t.ok(statuses.every((s) => s === 503), 'each told to try again');
  t.equal(count('portal-store-unavailable'), 1, 'one line for the outage, not one per request');
});
