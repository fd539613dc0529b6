// The HTTP listeners (ops: metrics and health; SCIM, often reachable from the internet for
// an IdP's provisioning) hold at most MAX_HTTP_CONNECTIONS connections. Before the cap,
// 3000 idle connections to SCIM from one client held 3000 descriptors in the proxy for the
// headers timeout (~20 s each, renewable): enough of them and the mail listeners get EMFILE.
// Over the cap a connection is closed at accept; once the flood is gone both serve again.
import t from 'tap';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';
import { Health } from '../../src/ops/health.js';
import { metrics } from '../../src/observability/metrics.js';
import { startOpsHttp } from '../../src/ops/http.js';
import { startScim } from '../../src/scim/server.js';
import { DmsUserStore } from '../../src/scim/store/user-store.js';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import { MAX_HTTP_CONNECTIONS } from '../../src/limits.js';
import { rawGet, rawHttp } from '../harness/raw-http.js';

const log = createLogger('warn', new Writable({ write(_c, _e, cb) { cb(); } }));
const ops = await startOpsHttp({ host: '127.0.0.1', port: 0 }, { health: new Health([], 0), metrics, log });
t.teardown(() => ops.close());
const dir = mkdtempSync(join(tmpdir(), 'omp-http-cap-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'postfix-accounts.cf'), '');
const store = await DmsUserStore.open({ dir, removeDeactivatedAfterMs: 0, disabled: new DisabledUsers(), log });
const TOKEN = 'scim-cap-token-0123456789abcdef';
const scim = await startScim({ listen: { host: '127.0.0.1', port: 0 }, token: TOKEN, store, log });
t.teardown(() => scim.close());

const FLOOD = MAX_HTTP_CONNECTIONS + 100;

/** Opens `n` idle connections; resolves with how many the server closed within `settleMs`. */
async function flood(port: number, n: number, settleMs: number): Promise<{ sockets: net.Socket[]; closedByServer: number }> {
  const sockets: net.Socket[] = [];
  let closedByServer = 0;
  for (let i = 0; i < n; i++) {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    s.on('close', () => { closedByServer += 1; });
    await new Promise<void>((resolve) => { s.once('connect', () => resolve()); s.once('close', () => resolve()); });
    sockets.push(s);
  }
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  return { sockets, closedByServer };
}

for (const [name, port, target, headers] of [
  ['ops', () => ops.address().port, '/healthz', {}],
  ['SCIM', () => scim.address().port, '/scim/v2/ServiceProviderConfig', { authorization: `Bearer ${TOKEN}` }],
] as const) {
  t.test(`${name}: idle connections over the cap are closed at once; the listener serves again afterwards`, async (t) => {
    const { sockets, closedByServer } = await flood(port(), FLOOD, 500);
    t.teardown(() => { for (const s of sockets) s.destroy(); });
    t.equal(closedByServer, FLOOD - MAX_HTTP_CONNECTIONS, `${closedByServer} of ${FLOOD} closed by the server: the cap (${MAX_HTTP_CONNECTIONS}) stays open, one more is closed`);
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    t.same((await rawHttp(port(), rawGet(target, headers))).statuses, [200], 'served once the flood is gone');
  });
}
