// Requests pipelined on one portal connection are served one after another. node:http hands
// every pipelined request to the handler as soon as it is parsed (it queues only the
// responses), so one unauthenticated TLS connection could send a few hundred GET /callback
// in one write (its own sealed sign-in and state, a made-up code) and have the portal open
// as many token-endpoint requests to the IdP at once: an amplifier outside
// MAX_CONNECTIONS_PER_IP (the client's share is counted in connections), each request an
// outbound socket and an info line. Here the IdP is a fake whose code exchange takes 20 ms
// and counts how many run at once.
import t from 'tap';
import type { PortalDeps } from '../../src/portal/routes.js';
import { callbackRequest, fakeBegin, startTestPortal } from '../harness/portal-listener.js';
import { rawHttps } from '../harness/raw-http.js';

let inFlight = 0;
let most = 0;
let exchanges = 0;
const { port, deps } = await startTestPortal(t, {
  oidc: {
    begin: fakeBegin,
    finish: async () => {
      exchanges += 1;
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight -= 1;
      throw new Error('invalid_grant'); // the IdP does not know the code
    },
  },
} as Partial<PortalDeps>);

/** `requests` written in one go on one TLS connection; resolves with the statuses answered within `ms`. */
const pipelined = async (requests: string, ms: number): Promise<number[]> => (await rawHttps(port, requests, ms)).statuses;

t.test('100 callbacks pipelined on one connection: one code exchange at a time, every one answered in order', async (t) => {
  const begun = await pipelined('GET /login HTTP/1.1\r\nHost: portal.example.test\r\nConnection: close\r\n\r\n', 5000);
  t.same(begun, [302]);
  const N = 100;
  const one = await callbackRequest(deps);
  const statuses = await pipelined(one.repeat(N - 1) + one.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'), 15_000);
  t.equal(statuses.length, N, 'every request answered');
  t.ok(statuses.every((s) => s === 400), 'each a refused sign-in');
  t.equal(exchanges, N, 'each tried once');
  t.equal(most, 1, `code exchanges at once on one connection (was ${most})`);
});
