// No mail lost (issue 7): messages submitted through the proxy (the real CLI, port 465,
// token logins) while a chaos loop drops random client connections and the backend's
// Postfix is restarted once. Afterwards every acknowledged message is in the mailbox
// exactly once (or once more per attempt that ended in the duplicate window), and no
// message is there that the accounting cannot explain. Prints the accounting table.
//
// 300 messages by default; SOAK_FULL=1 (or NOLOSS_MESSAGES) for the 1,000.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackend } from '../../harness/backend.js';
import { startIdp } from '../../harness/idp.js';
import { makeCerts } from '../../harness/certs.js';
import { eventually } from '../../harness/proxy.js';
import { startCliProxy } from './cli-proxy.js';
import { Submitter } from './submitter.js';
import { deliveredIds, settleDelivery } from './mailbox.js';
import { account, formatAccounting } from './accounting.js';

const int = (v: string | undefined, d: number): number => (v && /^\d+$/.test(v) ? Number(v) : d);
const FULL = process.env.SOAK_FULL === '1';
const MESSAGES = int(process.env.NOLOSS_MESSAGES, FULL ? 1000 : 300);
const WORKERS = 6;
const MAX_ATTEMPTS = 8;

t.setTimeout(FULL ? 20 * 60_000 : 170_000);

const backend = await startBackend();
t.teardown(() => backend.stop());
const idp = await startIdp();
t.teardown(() => idp.stop());
const dir = mkdtempSync(join(tmpdir(), 'omp-noloss-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certs = await makeCerts(dir, { prefix: 'proxy-' });
const proxy = await startCliProxy({ backend, userinfoUrl: idp.userinfoUrl, certs });
t.teardown(() => proxy.kill());
await eventually(async () => (await proxy.ready()) === 200, 30_000, `the CLI to be ready (${proxy.output().slice(-1500)})`);

t.test(`${MESSAGES} messages, random client drops, one Postfix restart: nothing acknowledged is lost`, async (t) => {
  const senders = await Promise.all(backend.users.map(async (u) => ({ email: u.email, token: await idp.mintToken(u.email) })));
  const sub = new Submitter({
    port: proxy.submissionsPort, ca: readFileSync(certs.caFile, 'utf8'), senders,
    count: MESSAGES, workers: WORKERS, maxAttempts: MAX_ATTEMPTS, dropAfterDot: 0.03,
  });
  let running = true;
  let drops = 0;
  let restarted = false;
  const chaos = (async () => {
    while (running) {
      await sleep(100 + Math.random() * 300);
      const live = [...sub.live];
      const victim = live[Math.floor(Math.random() * live.length)];
      if (victim && running) { victim.close(); drops += 1; }
      if (!restarted && sub.settled >= MESSAGES * 0.4) {
        restarted = true;
        const t0 = Date.now();
        await backend.restartPostfix();
        t.comment(`Postfix restarted at ${sub.settled}/${MESSAGES} messages (${Date.now() - t0} ms)`);
      }
    }
  })();
  const t0 = Date.now();
  await sub.run();
  running = false;
  await chaos;
  const secs = (Date.now() - t0) / 1000;
  t.ok(restarted, 'Postfix was restarted during the run');

  await settleDelivery(backend, backend.users.map((u) => u.email));
  const delivered = new Map<string, number>();
  for (const u of backend.users) for (const [id, n] of await deliveredIds(backend, u.email)) delivered.set(id, (delivered.get(id) ?? 0) + n);
  // Distinct Postfix queue ids per message: how many times Postfix accepted it from a client.
  const postfixLog = await backend.postfixLog();
  const ids = new Map<string, Set<string>>();
  for (const m of postfixLog.matchAll(/([0-9A-F]{6,}): message-id=<([^>]+)>/g)) ids.set(m[2]!, (ids.get(m[2]!) ?? new Set()).add(m[1]!));
  const queued = new Map([...ids].map(([id, q]) => [id, q.size] as const));
  const a = account(sub.records, delivered, queued);
  const table = formatAccounting(`no mail lost: ${MESSAGES} messages in ${secs.toFixed(1)} s, ${WORKERS} clients, ${drops} connections dropped by the chaos loop, Postfix restarted once`, a);
  for (const l of table.split('\n')) process.stdout.write(`# ${l}\n`);
  t.equal(a.missing, 0, 'no acknowledged message is missing');
  t.same(a.violations, [], 'every copy in the mailboxes is explained');
  if (a.violations.length) {
    // One queue id delivered twice: Postfix/LMTP redelivery; two queue ids: two submissions.
    const log = await backend.postfixLog();
    for (const v of a.violations.slice(0, 5)) {
      const id = v.split(':')[0]!;
      const queueIds = [...log.matchAll(new RegExp(`([0-9A-F]{6,}): message-id=<${id.replace(/[.]/g, '\\.')}>`, 'g'))].map((m) => m[1]!);
      const lines = log.split('\n').filter((l) => queueIds.some((q) => l.includes(q)));
      t.comment(`${id}: queue ids ${queueIds.join(', ')}\n${lines.join('\n')}`);
    }
  }
  t.ok(a.acked >= MESSAGES * 0.95, `at least 95% acknowledged within ${MAX_ATTEMPTS} attempts (${a.acked})`);
  t.ok((a.attempts.get('dropped-after-dot') ?? 0) > 0, 'the duplicate window was exercised');
  t.notMatch(proxy.output(), /"event":"internal-error"/, 'no internal-error logged');
});
