// Requests pipelined on one portal connection wait their turn (portal-pipelined-callbacks),
// so node:http's own flood guard, which stops reading a connection whose answers pile up
// unsent, never engages: the answers are not written until each request's turn. Without a
// bound of its own, one connection writing requests without end would queue them all (each
// parsed request and its response held in memory). Past PORTAL_MAX_PIPELINED waiting, the
// connection is closed; a fresh one is served.
import t from 'tap';
import tls from 'node:tls';
import type { PortalDeps } from '../../src/portal/routes.js';
import { PORTAL_MAX_PIPELINED } from '../../src/limits.js';
import { callbackRequest, fakeBegin, startTestPortal } from '../harness/portal-listener.js';
import { rawHttps } from '../harness/raw-http.js';

// The IdP's code exchange never answers within the test: the first callback holds the
// connection's turn, and every request behind it waits.
let exchanges = 0;
const { port, deps } = await startTestPortal(t, {
  oidc: {
    begin: fakeBegin,
    finish: async () => { exchanges += 1; await new Promise((r) => setTimeout(r, 3000)); throw new Error('invalid_grant'); },
  },
} as Partial<PortalDeps>);

t.test('a connection that keeps pipelining behind a request in progress is closed, not queued without end', async (t) => {
  const callback = await callbackRequest(deps);
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
  const { text } = await rawHttps(port, 'GET / HTTP/1.1\r\nHost: portal.example.test\r\nConnection: close\r\n\r\n');
  t.match(text, /^HTTP\/1\.1 (200|302) /, 'answered');
});
