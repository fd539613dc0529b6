// Requests pipelined on one portal connection wait their turn (portal-pipelined-callbacks),
// so node:http's own flood guard, which stops reading a connection whose answers pile up
// unsent, never engages: the answers are not written until each request's turn. Without a
// bound of its own, one connection writing requests without end would queue them all (each
// parsed request and its response held in memory). Past PORTAL_MAX_PIPELINED waiting, the
// connection is closed; a fresh one is served.
import t from 'tap';
import tls from 'node:tls';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { PortalDeps } from '../../src/portal/routes.js';
import { portalConnections, startPortalListener } from '../../src/portal/server.js';
import { PortalSessions } from '../../src/portal/sessions.js';
import { createLogger } from '../../src/observability/logger.js';
import { PORTAL_MAX_PIPELINED } from '../../src/limits.js';
import { makeCerts } from '../harness/certs.js';

const dir = mkdtempSync(join(tmpdir(), 'o2mp-portal-flood-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certs = await makeCerts(dir);
const context = tls.createSecureContext({ cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) });
const log = createLogger('info', new Writable({ write(_c, _e, cb) { cb(); } }));

// The IdP's code exchange never answers within the test: the first callback holds the
// connection's turn, and every request behind it waits.
let exchanges = 0;
const deps = {
  config: {
    listen: { host: '127.0.0.1', port: 0 }, origin: 'https://portal.example.test', redirectUri: 'https://portal.example.test/callback',
    clientId: 'portal', clientSecret: '', issuer: 'https://idp.example.test', scopes: ['openid'], sessionTtlMs: 60_000,
  },
  oidc: {
    begin: async () => ({ url: 'https://idp.example.test/auth?state=S'.padEnd(60, 'S'), login: { state: 'S'.padEnd(43, 'S'), nonce: 'N'.repeat(43), verifier: 'V'.repeat(43) } }),
    finish: async () => { exchanges += 1; await new Promise((r) => setTimeout(r, 3000)); throw new Error('invalid_grant'); },
  },
  sessions: new PortalSessions(60_000),
  disabledReason: () => undefined,
  log,
} as unknown as PortalDeps;
const listener = await startPortalListener({ host: '127.0.0.1', port: 0 }, { context, SNICallback: (_n, cb) => cb(null, context) }, null,
  portalConnections({ maxConnectionsPerIp: 100, ipv6ClientPrefix: 64 }), deps);
t.teardown(() => listener.close());
const port = listener.address().port;

t.test('a connection that keeps pipelining behind a request in progress is closed, not queued without end', async (t) => {
  const { sealLogin } = await import('../../src/portal/login-seal.js');
  const login = await deps.oidc.begin();
  const cookie = sealLogin(await deps.sessions.sealKey(), login.login, Date.now() + 60_000);
  const callback = `GET /callback?code=made-up&state=${login.login.state} HTTP/1.1\r\nHost: portal.example.test\r\nCookie: __Host-omp-login=${cookie}\r\n\r\n`;
  const page = 'GET / HTTP/1.1\r\nHost: portal.example.test\r\n\r\n';
  const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
  const closed = new Promise<void>((r) => s.on('close', () => r()));
  s.on('error', () => undefined);
  await new Promise<void>((r) => s.once('secureConnect', () => r()));
  // One callback (held by the IdP), then pages behind it, written while the connection takes them.
  let written = 0;
  s.write(callback);
  const writer = setInterval(() => {
    if (s.destroyed) return;
    s.write(page.repeat(100));
    written += 100;
  }, 5);
  const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('open'), 2500))]);
  clearInterval(writer);
  s.destroy();
  t.equal(outcome, 'closed', `closed by the portal (${written} requests written behind one held callback)`);
  t.ok(written < 20_000, `closed early (${written} written)`);
  t.equal(exchanges, 1, 'only the first callback reached the IdP');
  t.ok(PORTAL_MAX_PIPELINED >= 8 && PORTAL_MAX_PIPELINED <= 256, 'a bound an honest client never meets, small enough to matter');
});

t.test('a fresh connection is served afterwards', async (t) => {
  const text = await new Promise<string>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
    let out = '';
    s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: portal.example.test\r\nConnection: close\r\n\r\n'));
    s.on('data', (d: Buffer) => { out += d.toString('latin1'); });
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
  });
  t.match(text, /^HTTP\/1\.1 (200|302) /, 'answered');
});
