// While the IdP or the shared store is down, every portal request that needs it was one warn
// line: GET /login (portal-idp-unavailable: the failed discovery is kept, so each answer is
// an instant 503 with no IdP request) and any GET / (portal-store-unavailable) cost an
// anonymous client nothing, so one connection wrote warn lines as fast as it could send
// requests, during exactly the outage the operator is reading the log for. The portal's
// refusals of anonymous input stay at debug for this reason, and connection-refused lines
// are throttled (LogThrottle); these must be bounded the same way: the first line, then at
// most one per window carrying how many were left out.
import t from 'tap';
import type { PortalDeps } from '../../src/portal/routes.js';
import { PortalSessions, PortalStoreDown } from '../../src/portal/sessions.js';
import { captureLog, startTestPortal } from '../harness/portal-listener.js';
import { rawHttps } from '../harness/raw-http.js';

const { log, lines } = captureLog();
const portal = async (over: Partial<PortalDeps>): Promise<number> => (await startTestPortal(t, { log, ...over })).port;

/** `n` requests for `path` on one connection; the statuses. */
async function requests(port: number, path: string, n: number): Promise<number[]> {
  const one = `GET ${path} HTTP/1.1\r\nHost: portal.example.test\r\nCookie: __Host-omp-session=${'A'.repeat(43)}\r\n\r\n`;
  const last = one.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n');
  return (await rawHttps(port, one.repeat(n - 1) + last, 15_000)).statuses;
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
