// Malformed requests to the SCIM listener (issue 16): a request target `new URL()` cannot
// parse (`//a:99999`, `//%zz`) used to throw before the token check and again in the
// handlers' .catch/.finally, and the unhandled rejection ended the whole process. Each is a
// 400 now, logged at debug only; a bad `%` escape in a path is a 400 (was a 500 with an
// internal-error line), and the target is read as a path, never as an authority.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import { createLogger } from '../../src/observability/logger.js';
import { startScim } from '../../src/scim/server.js';
import { DmsUserStore } from '../../src/scim/store/user-store.js';
import { rawGet, rawHttp } from '../harness/raw-http.js';
import { recordCrashes } from '../reliability/fakes/leaks.js';

const TOKEN = 'scim-test-token-0123456789abcdef';
const crashes = recordCrashes();
t.teardown(() => crashes.dispose());
const dir = mkdtempSync(join(tmpdir(), 'omp-scim-malformed-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'postfix-accounts.cf'), '');
const logs: Array<Record<string, unknown>> = [];
const log = createLogger('debug', new Writable({ write(c: Buffer, _e, cb) { for (const l of c.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(l) as Record<string, unknown>); cb(); } }));
const store = await DmsUserStore.open({ dir, removeDeactivatedAfterMs: 0, disabled: new DisabledUsers(), log });
const listener = await startScim({ listen: { host: '127.0.0.1', port: 0 }, token: TOKEN, store, log });
t.teardown(() => listener.close());
const port = listener.address().port;
const auth = { authorization: `Bearer ${TOKEN}` };
const INFO = 30;

t.test('targets new URL() throws on: a 4xx before authentication, the process lives, nothing above debug', async (t) => {
  const before = logs.length;
  // `//a:99999` is a well-formed path (RFC 9112 §3.2.1: segments "" and "a:99999"), just
  // not one we serve: 404. The others break the path or query syntax (RFC 3986): 400.
  const cases: Array<[string, number]> = [
    ['//a:99999', 404], ['//a:99999/scim/v2/Users', 404], ['//%zz', 400], ['//[::1/scim/v2', 400], ['/scim/v2/%', 400],
    ['/scim/v2/Users?filter=%zz%', 400], ['/scim/v2/Users#frag', 400], ['*', 400],
  ];
  for (const [target, status] of cases) {
    const r = await rawHttp(port, rawGet(target));
    t.same(r.statuses, [status], `${target}: ${r.text.split('\r\n')[0]}`);
    const r2 = await rawHttp(port, rawGet(target, auth));
    t.same(r2.statuses, [status], `${target} with the token`);
  }
  t.equal(crashes.describe(), '', 'no unhandled rejection, no uncaught exception');
  const loud = logs.slice(before).filter((l) => (l.level as number) >= INFO);
  t.same(loud, [], 'no log line above debug');
  // The listener still serves.
  const ok = await rawHttp(port, rawGet('/scim/v2/ServiceProviderConfig', auth));
  t.same(ok.statuses, [200]);
});

t.test('a malformed % escape in a path segment is a 400, not a 500', async (t) => {
  const before = logs.length;
  for (const target of ['/scim/v2/Users/%C3%28', '/scim/v2/Users/%FF', '/scim/v2/%E0%A4%A']) {
    const r = await rawHttp(port, rawGet(target, auth));
    t.same(r.statuses, [400], target);
    if (r.statuses[0] === 400) t.match(JSON.parse(r.text.slice(r.text.indexOf('\r\n\r\n') + 4)), { status: '400', scimType: 'invalidSyntax' });
  }
  t.notOk(logs.slice(before).some((l) => l.event === 'internal-error'), 'no internal-error');
  t.equal(crashes.describe(), '');
});

t.test('an origin-form target is a path: //host/scim/v2/... is not /scim/v2/...', async (t) => {
  t.same((await rawHttp(port, rawGet('//evil.test/scim/v2/ServiceProviderConfig', auth))).statuses, [404]);
  // The absolute-form (RFC 9112 §3.2.2) is accepted; its authority is ignored.
  t.same((await rawHttp(port, rawGet('http://other.test/scim/v2/ServiceProviderConfig', auth))).statuses, [200]);
});

t.test('CONNECT gets a 405, not a silently closed socket', async (t) => {
  const r = await rawHttp(port, 'CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n');
  t.same(r.statuses, [405]);
});

t.test('a body cut short by the client is not an internal error', async (t) => {
  const before = logs.length;
  const r = await rawHttp(port, `POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/scim+json\r\nContent-Length: 100\r\n\r\n{"userName":`);
  t.notOk(r.statuses.some((s) => s >= 500), `no 5xx (${r.statuses.join(',')})`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.notOk(logs.slice(before).some((l) => l.event === 'internal-error' || (l.level as number) >= 50), 'no internal-error, nothing at error level');
  t.equal(readFileSync(join(dir, 'postfix-accounts.cf'), 'utf8'), '', 'nothing written');
  t.equal(crashes.describe(), '');
});

// A chunked body over MAX_SCIM_BODY_BYTES (no Content-Length to refuse it by): the body
// reader stops, the 413 goes out, and the request's socket is gone by the time the request
// log line is written. Reading req.socket.remoteAddress then threw, and each such request
// put an error-level internal-error line in the log (an alert for a client's mistake).
t.test('a chunked body over the cap: 413, not an internal error', async (t) => {
  const before = logs.length;
  const chunk = `8000\r\n${'a'.repeat(0x8000)}\r\n`;
  const head = `POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\n\r\n`;
  const r = await rawHttp(port, `${head}${chunk.repeat(3)}0\r\n\r\n`);
  t.same(r.statuses, [413]);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same(logs.slice(before).filter((l) => l.event === 'internal-error' || (l.level as number) >= 50), [], 'no internal-error, nothing at error level');
  t.equal(crashes.describe(), '');
});
