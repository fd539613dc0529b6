// Adversary finding: the HTTP listeners (ops: metrics and health; SCIM) bound
// the time to receive a request (headers and request timeouts) and an idle keep-alive
// connection, but nothing bounds the time a response takes to be read. A client that
// pipelines a few thousand `GET /metrics` and never reads holds the connection for ever:
// node:http stops reading its requests once the replies back up (so the request timeout
// never applies) and the keep-alive timer only starts once a reply is written out.
// MAX_HTTP_CONNECTIONS (128) such connections from one host, and the liveness and readiness
// probes and the Prometheus scrape (or the IdP's provisioning) are refused at accept until
// the proxy restarts. A connection on which nothing moves, either way, for the request
// timeout must be closed. (The portal answers one pipelined request and closes: not so.)
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
import { OPS_HTTP_REQUEST_TIMEOUT_MS } from '../../src/limits.js';

const log = createLogger('warn', new Writable({ write(_c, _e, cb) { cb(); } }));
const ops = await startOpsHttp({ host: '127.0.0.1', port: 0 }, { health: new Health([], 0), metrics, log });
t.teardown(() => ops.close());
const dir = mkdtempSync(join(tmpdir(), 'omp-slow-reader-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'postfix-accounts.cf'), '');
const store = await DmsUserStore.open({ dir, removeDeactivatedAfterMs: 0, disabled: new DisabledUsers(), log });
const TOKEN = 'scim-slow-reader-token-0123456789';
const SCIM_REQUEST_MS = 3000;
const scim = await startScim({ listen: { host: '127.0.0.1', port: 0 }, token: TOKEN, store, log, requestTimeoutMs: SCIM_REQUEST_MS });
t.teardown(() => scim.close());

const STATUS = Buffer.from('HTTP/1.1 ');
const BATCH = 50;

/**
 * Pipelines `count` copies of `request` and reads nothing for `waitMs`; then reads until the
 * server closes (or 30 s). Resolves with how many replies came: `count` if the server kept
 * the connection for the reader (and answered it all once it read), fewer if it gave up.
 */
async function slowReader(port: number, request: string, count: number, waitMs: number): Promise<number> {
  const s = net.connect({ host: '127.0.0.1', port });
  s.on('error', () => undefined);
  await new Promise((resolve) => s.once('connect', resolve));
  s.pause(); // the replies pile up: the kernel buffers fill, then node:http's
  // In small batches, so that each read of the server ends on a request boundary: a request
  // half read when node:http stops reading would be ended by the request timeout.
  for (let sent = 0; sent < count; sent += BATCH) {
    s.write(request.repeat(BATCH));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  let replies = 0;
  let tail = Buffer.alloc(0);
  s.on('data', (c: Buffer) => {
    const bytes = Buffer.concat([tail, c]);
    for (let at = bytes.indexOf(STATUS); at >= 0; at = bytes.indexOf(STATUS, at + 1)) replies += 1;
    tail = bytes.subarray(-(STATUS.length - 1)); // a status line split between two reads
  });
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 30_000);
    s.once('close', () => { clearTimeout(timer); resolve(undefined); });
    s.resume();
  });
  s.destroy();
  return replies;
}

t.test('ops: a client that never reads its replies is closed, not held for ever', async (t) => {
  // Twice the timeout: node lets the first one pass while a write is queued (net.Socket._onTimeout).
  const waitMs = 2 * OPS_HTTP_REQUEST_TIMEOUT_MS + 3000;
  const replies = await slowReader(ops.address().port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n', 6000, waitMs);
  t.ok(replies < 6000, `closed within ${waitMs} ms (${replies} of 6000 replies read)`);
});

t.test('SCIM: a client that never reads its replies is closed, not held for ever', async (t) => {
  const req = `GET /scim/v2/Schemas HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`;
  const waitMs = SCIM_REQUEST_MS * 2 + 5000;
  const replies = await slowReader(scim.address().port, req, 5000, waitMs);
  t.ok(replies < 5000, `closed within ${waitMs} ms (${replies} of 5000 replies read)`);
});
