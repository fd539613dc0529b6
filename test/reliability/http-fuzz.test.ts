// The SCIM and ops listeners under malformed requests over raw sockets (issue 16): request
// lines, targets, headers and bodies from test/reliability/http-requests.ts, bounded in
// count (HTTP_FUZZ_CASES, default 400) and time (HTTP_FUZZ_SECONDS, default 60), with a
// fixed seed unless HTTP_FUZZ_SEED is set, so a failure replays. Every answer must be a
// 4xx (never a 5xx, never a 2xx to a request that should fail), the process must see no
// uncaught exception or unhandled rejection, nothing may be logged at error level, and
// afterwards the IMAP listener still greets and SCIM and ops still serve.
import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProxy } from '../harness/proxy.js';
import { RawClient } from '../harness/raw-imap.js';
import { rawGet, rawHttp } from '../harness/raw-http.js';
import { startBackendAndIdp } from '../harness/stack.js';
import { recordCrashes } from './fakes/leaks.js';
import { anyRequest, authedScimWrite, type RawRequest } from './http-requests.js';

const CASES = Number(process.env.HTTP_FUZZ_CASES ?? 400);
const SECONDS = Number(process.env.HTTP_FUZZ_SECONDS ?? 60);
const SEED = Number(process.env.HTTP_FUZZ_SEED ?? 20_261_203);
const SCIM_TOKEN = randomBytes(24).toString('hex');

const crashes = recordCrashes();
t.teardown(() => crashes.dispose());
const { backend, idp } = await startBackendAndIdp(t);
const dmsDir = mkdtempSync(join(tmpdir(), 'omp-http-fuzz-'));
t.teardown(() => rmSync(dmsDir, { recursive: true, force: true }));
const proxy = await startProxy({
  backend, userinfoUrl: idp.userinfoUrl,
  env: { LISTEN_SCIM: '127.0.0.1:0', SCIM_TOKEN, DMS_CONFIG_DIR: dmsDir, LOG_LEVEL: 'info' },
});
t.teardown(() => proxy.stop());
const scimPort = proxy.server.port('scim');
const opsPort = proxy.server.port('http');

// No prefix, glued to the pieces, can spell a path the listener serves (/metrics, /healthz,
// /readyz; SCIM serves nothing without the token).
const OPS_PREFIXES = ['', '/', '//', '/x', '*', '%', 'http://', 'http://x/', '//metrics', '/metricsz', '/health', '/readyz/'];
const SCIM_PREFIXES = ['', '/', '//', '/scim/v2', '/scim/v2/', '/scim/v2/Users', '/scim/v2/Users/', '/scim/v2/ServiceProviderConfig', 'http://x/scim/v2/', '*', '%'];

type Outcome = { statuses: number[]; closed: boolean };
const failures: string[] = [];
const tally = new Map<string, number>();
const count = (k: string): void => { tally.set(k, (tally.get(k) ?? 0) + 1); };

async function check(listener: string, port: number, req: RawRequest): Promise<boolean> {
  const r: Outcome = await rawHttp(port, req.bytes, 3000);
  const finals = r.statuses.filter((s) => s >= 200); // 100 Continue may come first
  for (const s of finals) count(`${listener} ${s}`);
  if (finals.length === 0) count(`${listener} ${r.closed ? 'closed without an answer' : 'still open'}`);
  const bad = finals.filter((s) => s < 400 || s >= 500);
  // A request the server never saw whole (cut short by our FIN) may be closed without an
  // answer; a connection left hanging, or any non-4xx answer, is a failure.
  if (bad.length || !r.closed) failures.push(`${listener}: ${req.label} -> ${r.statuses.join(',') || 'no answer'}${r.closed ? '' : ' (still open)'}`);
  return bad.length === 0 && r.closed;
}

t.test('malformed requests to SCIM and ops: only 4xx, the process lives, IMAP still answers', async (t) => {
  const deadline = Date.now() + SECONDS * 1000;
  const arb = fc.oneof(
    anyRequest(OPS_PREFIXES).map((r) => ['ops', r] as const),
    anyRequest(SCIM_PREFIXES).map((r) => ['scim', r] as const),
    authedScimWrite(SCIM_TOKEN).map((r) => ['scim+token', r] as const),
  );
  let ran = 0;
  await fc.assert(fc.asyncProperty(arb, async ([listener, req]) => {
    if (Date.now() > deadline) return true; // out of time: the remaining runs pass without sending
    ran += 1;
    return check(listener, listener === 'ops' ? opsPort : scimPort, req);
  }), { numRuns: CASES, seed: SEED, endOnFailure: true }).catch(() => undefined); // the failures list says what failed
  t.same(failures.slice(0, 20), [], `seed ${SEED}: ${ran} cases ${JSON.stringify(Object.fromEntries(tally))}`);
  t.ok(ran >= Math.min(100, CASES), `ran ${ran} cases`);
  t.equal(crashes.describe(), '', 'no unhandled rejection, no uncaught exception');

  const imap = await RawClient.connect(proxy.imapPort);
  t.teardown(() => imap.close());
  t.match(await imap.line(), /^\* OK/, 'IMAP still greets');
  t.match((await imap.command('a1 NOOP')).tagged, /^a1 OK/, 'and answers');
  t.same((await rawHttp(opsPort, rawGet('/healthz'))).statuses, [200], 'ops still serves');
  t.same((await rawHttp(scimPort, rawGet('/scim/v2/Users', { authorization: `Bearer ${SCIM_TOKEN}` }))).statuses, [200], 'SCIM still serves');
  const logs = proxy.logs();
  t.same(logs.filter((l) => (l.level as number) >= 50).slice(0, 5), [], 'nothing logged at error level');
  t.equal(readFileSync(join(dmsDir, 'postfix-accounts.cf'), { encoding: 'utf8', flag: 'a+' }), '', 'no account written');
});
