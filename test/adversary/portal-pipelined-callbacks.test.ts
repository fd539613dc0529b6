// Requests pipelined on one portal connection are served one after another. node:http hands
// every pipelined request to the handler as soon as it is parsed (it queues only the
// responses), so one unauthenticated TLS connection could send a few hundred GET /callback
// in one write (its own sealed sign-in and state, a made-up code) and have the portal open
// as many token-endpoint requests to the IdP at once: an amplifier outside
// MAX_CONNECTIONS_PER_IP (the client's share is counted in connections), each request an
// outbound socket and an info line. Here the IdP is a fake whose code exchange takes 20 ms
// and counts how many run at once.
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

const dir = mkdtempSync(join(tmpdir(), 'o2mp-portal-pipeline-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certs = await makeCerts(dir);
const context = tls.createSecureContext({ cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) });
const log = createLogger('info', new Writable({ write(_c, _e, cb) { cb(); } }));

let inFlight = 0;
let most = 0;
let exchanges = 0;
const deps = {
  config: {
    listen: { host: '127.0.0.1', port: 0 }, origin: 'https://portal.example.test', redirectUri: 'https://portal.example.test/callback',
    clientId: 'portal', clientSecret: '', issuer: 'https://idp.example.test', scopes: ['openid'], sessionTtlMs: 60_000,
  },
  oidc: {
    begin: async () => ({ url: 'https://idp.example.test/auth?state=S'.padEnd(60, 'S'), login: { state: 'S'.padEnd(43, 'S'), nonce: 'N'.repeat(43), verifier: 'V'.repeat(43) } }),
    finish: async () => {
      exchanges += 1;
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight -= 1;
      throw new Error('invalid_grant'); // the IdP does not know the code
    },
  },
  sessions: new PortalSessions(60_000),
  disabledReason: () => undefined,
  log,
} as unknown as PortalDeps;
const listener = await startPortalListener({ host: '127.0.0.1', port: 0 }, { context, SNICallback: (_n, cb) => cb(null, context) }, null,
  portalConnections({ maxConnectionsPerIp: 100, ipv6ClientPrefix: 64 }), deps);
t.teardown(() => listener.close());
const port = listener.address().port;

/** `requests` written in one go on one TLS connection; resolves with the statuses answered within `ms`. */
function pipelined(requests: string, ms: number): Promise<number[]> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
    let text = '';
    const done = () => { clearTimeout(timer); s.destroy(); resolve([...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))); };
    const timer = setTimeout(done, ms);
    s.on('secureConnect', () => s.write(requests));
    s.on('data', (d: Buffer) => { text += d.toString('latin1'); });
    s.on('error', done);
    s.on('close', done);
  });
}

t.test('100 callbacks pipelined on one connection: one code exchange at a time, every one answered in order', async (t) => {
  const begun = await pipelined('GET /login HTTP/1.1\r\nHost: portal.example.test\r\nConnection: close\r\n\r\n', 5000);
  t.same(begun, [302]);
  const { sealKey } = deps.sessions;
  const { sealLogin } = await import('../../src/portal/login-seal.js');
  const login = await deps.oidc.begin();
  const cookie = sealLogin(await sealKey.call(deps.sessions), login.login, Date.now() + 60_000);
  const N = 100;
  const one = `GET /callback?code=made-up&state=${login.login.state} HTTP/1.1\r\nHost: portal.example.test\r\nCookie: __Host-omp-login=${cookie}\r\n\r\n`;
  const statuses = await pipelined(one.repeat(N - 1) + one.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'), 15_000);
  t.equal(statuses.length, N, 'every request answered');
  t.ok(statuses.every((s) => s === 400), 'each a refused sign-in');
  t.equal(exchanges, N, 'each tried once');
  t.equal(most, 1, `code exchanges at once on one connection (was ${most})`);
});
