// The image's HEALTHCHECK (`oauth2-mail-proxy healthcheck`) asks the proxy's own /healthz
// where LISTEN_HTTP puts it. It used to fetch a fixed 127.0.0.1:9090: an operator who moved
// the ops listener (another port, one address) got a container marked unhealthy for ever,
// which Swarm and some orchestrators restart in a loop.
import t from 'tap';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';
import { Health } from '../../src/ops/health.js';
import { metrics } from '../../src/observability/metrics.js';
import { startOpsHttp } from '../../src/ops/http.js';
import { healthcheckCommand } from '../../src/commands/healthcheck.js';

const log = createLogger('warn', new Writable({ write(_c, _e, cb) { cb(); } }));
const ops = await startOpsHttp({ host: '127.0.0.1', port: 0 }, { health: new Health([], 0), metrics, log });
t.teardown(() => ops.close());
const port = ops.address().port;
const closed = await new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
});
let err = '';
const run = (LISTEN_HTTP?: string): Promise<number> => healthcheckCommand({ env: LISTEN_HTTP === undefined ? {} : { LISTEN_HTTP }, err: (s) => { err += s; } });

t.test('asks /healthz where LISTEN_HTTP puts it', async (t) => {
  t.equal(await run(`127.0.0.1:${port}`), 0, 'the listener\'s own address');
  t.equal(await run(`0.0.0.0:${port}`), 0, 'every address: asked on 127.0.0.1');
  t.equal(await run(`:${port}`), 0, 'no host: every address');
  t.equal(await run(`localhost:${port}`), 0, 'a host name');
});

t.test('unhealthy when nothing answers there, or the value is no listen address', async (t) => {
  err = '';
  t.equal(await run(`127.0.0.1:${closed}`), 1, 'nothing listening');
  t.match(err, /healthz/, 'says what it asked');
  t.equal(await run('not an address'), 1, 'a bad LISTEN_HTTP');
});

t.test('no ops listener (LISTEN_HTTP empty): nothing to ask, not unhealthy', async (t) => {
  err = '';
  t.equal(await run(''), 0);
  t.match(err, /LISTEN_HTTP is empty/);
});

t.test('the image\'s HEALTHCHECK runs the command', async (t) => {
  const dockerfile = readFileSync(join(import.meta.dirname, '..', '..', 'deploy', 'Dockerfile'), 'utf8');
  t.match(dockerfile, /^\s*CMD \["node", "dist\/src\/cli\.js", "healthcheck"\]$/m);
});
