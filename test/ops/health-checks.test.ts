// The readiness probe of the IdP goes through the IdP HTTP client (src/auth/http.ts), so it
// keeps the limits every token request keeps: OAUTH2_TIMEOUT_MS, the agent's connection cap
// and the response size cap. Before (issue 17) it was a bare fetch with its own 2 s timer:
// an IdP that accepted and never answered held /readyz for 2 s whatever OAUTH2_TIMEOUT_MS said.
import t from 'tap';
import net from 'node:net';
import { startProxy } from '../harness/proxy.js';
import { startFakeIdp } from '../reliability/fakes/idp.js';

// A port that accepts TCP, so the backend check passes and readiness turns on the IdP alone.
const dms = net.createServer((s) => s.destroy());
await new Promise<void>((resolve) => dms.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise<void>((resolve) => dms.close(() => resolve())));
const dmsPort = (dms.address() as net.AddressInfo).port;
const backend = { host: '127.0.0.1', imapPort: dmsPort, submissionPort: dmsPort, caFile: '', master: { user: 'proxy', password: 'pw' } };

interface Readiness { ready: boolean; checks: Array<{ name: string; ok: boolean; detail: string }> }

async function readyz(port: number): Promise<{ status: number; body: Readiness; ms: number }> {
  const started = Date.now();
  const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as Readiness, ms: Date.now() - started };
}

t.test('an IdP that never answers: /readyz answers within OAUTH2_TIMEOUT_MS, not ready', async (t) => {
  const idp = await startFakeIdp({ kind: 'hang' });
  t.teardown(() => idp.stop());
  const proxy = await startProxy({ backend, userinfoUrl: idp.url, env: { OAUTH2_TIMEOUT_MS: '300' } });
  t.teardown(() => proxy.stop());
  const r = await readyz(proxy.server.port('http'));
  t.equal(r.status, 503);
  t.equal(r.body.ready, false);
  t.match(r.body.checks.find((c) => c.name === 'idp'), { ok: false });
  t.ok(r.body.checks.find((c) => c.name === 'backend')?.ok, 'only the IdP is down');
  t.ok(r.ms < 1500, `answered in ${r.ms} ms (OAUTH2_TIMEOUT_MS=300; the old probe waited 2000)`);
  t.equal(idp.requests, 1, 'the probe reached the IdP');
});

t.test('an IdP that answers (401 without a token) is ready; a 500 is not', async (t) => {
  const idp = await startFakeIdp({ kind: 'status', status: 401 });
  t.teardown(() => idp.stop());
  const proxy = await startProxy({ backend, userinfoUrl: idp.url, env: { OAUTH2_TIMEOUT_MS: '2000' } });
  t.teardown(() => proxy.stop());
  const up = await readyz(proxy.server.port('http'));
  t.equal(up.status, 200, JSON.stringify(up.body));
  t.match(up.body.checks.find((c) => c.name === 'idp'), { ok: true });

  idp.behaviour = { kind: 'status', status: 500 };
  const down = await startProxy({ backend, userinfoUrl: idp.url });
  t.teardown(() => down.stop());
  const r = await readyz(down.server.port('http'));
  t.equal(r.status, 503);
  t.match(r.body.checks.find((c) => c.name === 'idp'), { ok: false });
});

t.test('a huge answer is read only up to OAUTH2_MAX_RESPONSE_BYTES; the IdP still counts as up', async (t) => {
  const idp = await startFakeIdp({ kind: 'huge', bytes: 50 * 1024 * 1024 });
  t.teardown(() => idp.stop());
  const proxy = await startProxy({ backend, userinfoUrl: idp.url, env: { OAUTH2_MAX_RESPONSE_BYTES: '1024' } });
  t.teardown(() => proxy.stop());
  const r = await readyz(proxy.server.port('http'));
  t.match(r.body.checks.find((c) => c.name === 'idp'), { ok: true });
  t.ok(r.ms < 3000, `answered in ${r.ms} ms`);
});
