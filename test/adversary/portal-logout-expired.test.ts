// Signing out of a session that has already ended (expired, ended elsewhere, the portal
// restarted): the browser still holds the session cookie and the page's sign-out form. That
// POST /logout was a 403 "Signed out" page that left the dead cookie in place, so every later
// visit carried it. Sign-out needs no live session: it ends whatever there is and clears the
// cookie (a cross-site POST is still refused by the origin check).
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
import { makeCerts } from '../harness/certs.js';

const ORIGIN = 'https://portal.example.test';
const dir = mkdtempSync(join(tmpdir(), 'o2mp-portal-logout-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certs = await makeCerts(dir);
const context = tls.createSecureContext({ cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) });
const sessions = new PortalSessions(60_000);
const deps = {
  config: {
    listen: { host: '127.0.0.1', port: 0 }, origin: ORIGIN, redirectUri: `${ORIGIN}/callback`,
    clientId: 'portal', clientSecret: '', issuer: 'https://idp.example.test', scopes: ['openid'], sessionTtlMs: 60_000,
  },
  sessions,
  disabledReason: () => undefined,
  log: createLogger('info', new Writable({ write(_c, _e, cb) { cb(); } })),
} as unknown as PortalDeps;
const listener = await startPortalListener({ host: '127.0.0.1', port: 0 }, { context, SNICallback: (_n, cb) => cb(null, context) }, null,
  portalConnections({ maxConnectionsPerIp: 100, ipv6ClientPrefix: 64 }), deps);
t.teardown(() => listener.close());
const port = listener.address().port;

function post(path: string, sid: string, origin: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
    let text = '';
    s.on('secureConnect', () => s.write(`POST ${path} HTTP/1.1\r\nHost: portal.example.test\r\nConnection: close\r\nCookie: __Host-omp-session=${sid}\r\n`
      + `Origin: ${origin}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`));
    s.on('data', (d: Buffer) => { text += d.toString('latin1'); });
    s.on('error', reject);
    s.on('close', () => resolve(text));
  });
}

t.test('POST /logout with a session that has ended: back to the start page, the cookie cleared', async (t) => {
  const sid = sessions.start('alice@example.test');
  const csrf = sessions.get(sid)!.csrf;
  await sessions.end(sid); // expired or ended elsewhere; the browser still has the page
  const text = await post('/logout', sid, ORIGIN, `csrf=${csrf}`);
  t.match(text, /^HTTP\/1\.1 303 /, 'a redirect, not a 403 page');
  t.match(text, /\r\nlocation: \/\r\n/i, 'to the start page');
  t.match(text, /set-cookie: __Host-omp-session=x+;[^\r]*Max-Age=0/i, 'the dead cookie cleared');
});

t.test('a cross-site POST /logout is still refused', async (t) => {
  const text = await post('/logout', 'A'.repeat(43), 'https://evil.example', 'csrf=x');
  t.match(text, /^HTTP\/1\.1 403 /);
  t.notMatch(text, /set-cookie: __Host-omp-session/i);
});

t.test('POST /create with a session that has ended is still a 403', async (t) => {
  const text = await post('/create', 'A'.repeat(43), ORIGIN, 'csrf=x&label=Phone');
  t.match(text, /^HTTP\/1\.1 403 /);
});
