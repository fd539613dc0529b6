// The ops listener (metrics, health) against malformed request targets (issue 16): anyone
// who can reach the port used to get a 500 and put an error line in the log per request
// (`GET //%zz`). Malformed is a 400 now, logged at debug only; a target is read as a path
// (`//x/metrics` is not /metrics); CONNECT is a 405. A genuine fault inside the handler is
// still a 500, counted once in internal_errors_total{listener="http"}.
import t from 'tap';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';
import { Health } from '../../src/ops/health.js';
import { metrics } from '../../src/observability/metrics.js';
import { startOpsHttp } from '../../src/ops/http.js';
import { rawGet, rawHttp } from '../harness/raw-http.js';
import { recordCrashes } from '../reliability/fakes/leaks.js';

const crashes = recordCrashes();
t.teardown(() => crashes.dispose());
const logs: Array<Record<string, unknown>> = [];
const log = createLogger('debug', new Writable({ write(c: Buffer, _e, cb) { for (const l of c.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(l) as Record<string, unknown>); cb(); } }));
// A fake only to inject the fault: readiness() itself throws (a bug), not a failing check.
let failReadiness = false;
const real = new Health([], 0);
const health = { readiness: async () => { if (failReadiness) throw new Error('injected fault'); return real.readiness(); } } as unknown as Health;
const ops = await startOpsHttp({ host: '127.0.0.1', port: 0 }, { health, metrics, log });
t.teardown(() => ops.close());
const port = ops.address().port;
const faults = async (): Promise<number> => (await metrics.internalErrors.get()).values.find((v) => v.labels.listener === 'http')?.value ?? 0;

t.test('malformed targets: 400, nothing above debug, no crash', async (t) => {
  const before = logs.length;
  for (const target of ['//%zz', '/%', '/metrics%', '/healthz?x=%G0', '/a#b', '*', '//[x']) {
    const r = await rawHttp(port, rawGet(target));
    t.same(r.statuses, [400], target);
  }
  t.same(logs.slice(before).filter((l) => (l.level as number) >= 30), [], 'no line above debug');
  t.equal(crashes.describe(), '');
});

t.test('well-formed but unknown or misleading targets', async (t) => {
  t.same((await rawHttp(port, rawGet('//a:99999'))).statuses, [404], '//a:99999 is a path, not an authority');
  t.same((await rawHttp(port, rawGet('//x/metrics'))).statuses, [404], '//x/metrics is not /metrics');
  t.same((await rawHttp(port, rawGet('http://x/healthz'))).statuses, [200], 'absolute-form (RFC 9112 §3.2.2)');
  t.same((await rawHttp(port, rawGet('/healthz?probe=1'))).statuses, [200]);
  t.same((await rawHttp(port, 'CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\n\r\n')).statuses, [405]);
  t.same((await rawHttp(port, 'DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n')).statuses, [405]);
});

t.test('a fault inside the handler is one 500 for that request, counted, and the listener goes on', async (t) => {
  const before = await faults();
  failReadiness = true;
  t.same((await rawHttp(port, rawGet('/readyz'))).statuses, [500]);
  failReadiness = false;
  t.equal(await faults(), before + 1, 'internal_errors_total{listener="http"} +1');
  t.same((await rawHttp(port, rawGet('/readyz'))).statuses, [200], 'next request served');
  t.equal(crashes.describe(), '');
});
