// Scale-out (issue 7): two instances of the real CLI behind HAProxy (Debian package) with
// PROXY protocol v2, a mixed load (IMAP login cycles, IDLE sessions, SMTP submissions with
// the no-mail-lost accounting). Mid-run instance A gets SIGKILL: its clients see a dropped
// connection and reconnect through HAProxy to B; later B gets SIGTERM and drains (IDLE gets
// * BYE, SMTP finishes its transaction) and exits 0. The proxy keeps no state that breaks
// when an instance dies: acknowledged mail is intact.
//
// 200 messages by default; SOAK_FULL=1 (or HAPROXY_MESSAGES) for 1,000.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackend } from '../../harness/backend.js';
import { startIdp } from '../../harness/idp.js';
import { makeCerts } from '../../harness/certs.js';
import { eventually } from '../../harness/proxy.js';
import { exitWithin, startCliProxy, type CliProxy } from './cli-proxy.js';
import { startHaproxy } from './haproxy.js';
import { loginCycle, openIdle, type Credential, type IdleSession } from './imap-load.js';
import { Submitter } from './submitter.js';
import { deliveredIds, settleDelivery } from './mailbox.js';
import { account, formatAccounting } from './accounting.js';

const int = (v: string | undefined, d: number): number => (v && /^\d+$/.test(v) ? Number(v) : d);
const FULL = process.env.SOAK_FULL === '1';
const MESSAGES = int(process.env.HAPROXY_MESSAGES, FULL ? 1000 : 200);
const DRAIN_MESSAGES = FULL ? 200 : 60;
const IDLE_SESSIONS = 20;
const GRACE_SECONDS = 15;

t.setTimeout(FULL ? 20 * 60_000 : 170_000);

const backend = await startBackend({ mailMaxUserIpConnections: 50 });
t.teardown(() => backend.stop());
const idp = await startIdp();
t.teardown(() => idp.stop());
const dir = mkdtempSync(join(tmpdir(), 'omp-haproxy-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certs = await makeCerts(dir, { prefix: 'proxy-' }); // one certificate, as both replicas would mount
const ca = readFileSync(certs.caFile, 'utf8');
const env = { PROXY_PROTOCOL_TRUSTED_NETWORKS: '127.0.0.0/8', SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS) };
const [a, b] = await Promise.all([
  startCliProxy({ backend, userinfoUrl: idp.userinfoUrl, certs, env }),
  startCliProxy({ backend, userinfoUrl: idp.userinfoUrl, certs, env }),
]) as [CliProxy, CliProxy];
t.teardown(() => { a.kill(); b.kill(); });
for (const p of [a, b]) await eventually(async () => (await p.ready()) === 200, 30_000, `an instance to be ready (${p.output().slice(-1500)})`);
const lb = await startHaproxy(dir, [
  { name: 'a', imapsPort: a.imapsPort, submissionsPort: a.submissionsPort, httpPort: a.httpPort },
  { name: 'b', imapsPort: b.imapsPort, submissionsPort: b.submissionsPort, httpPort: b.httpPort },
]);
t.teardown(() => lb.stop());

const [alice, bob] = backend.users as [typeof backend.users[0], typeof backend.users[0]];
const tokens = new Map([[alice.email, await idp.mintToken(alice.email)], [bob.email, await idp.mintToken(bob.email)]]);
const cred = (i: number): Credential => {
  const u = i % 2 ? bob : alice;
  return { kind: 'token', user: u.email, token: tokens.get(u.email)! };
};

/** An IDLE session that reconnects (through HAProxy) whenever its connection drops, like a mail client. */
class ReconnectingIdle {
  session: IdleSession | null = null;
  reconnects = 0;
  byes = 0;
  private stopped = false;
  constructor(private readonly i: number) {}
  async keep(): Promise<void> {
    while (!this.stopped) {
      try {
        this.session = await openIdle({ port: lb.imapsPort, ca, localAddress: `127.22.0.${this.i + 1}` }, cred(this.i), 15_000);
      } catch {
        await sleep(200);
        continue;
      }
      await this.session.client.closedPromise;
      if (/\* BYE/.test(this.session.client.pending())) this.byes += 1;
      if (!this.stopped) this.reconnects += 1;
    }
  }
  stop(): void { this.stopped = true; }
}

t.test('two instances behind HAProxy: SIGKILL one, SIGTERM the other; acknowledged mail intact', async (t) => {
  t.same([...(await lb.servers('imaps')).values()], ['UP', 'UP'], 'both instances UP in HAProxy');

  // IDLE clients, spread over both instances by round robin.
  const idlers = Array.from({ length: IDLE_SESSIONS }, (_, i) => new ReconnectingIdle(i));
  const idleLoops = idlers.map((x) => x.keep());
  await eventually(() => idlers.every((x) => x.session), 30_000, 'the IDLE sessions to be up');

  // IMAP login cycles; a failed cycle is retried (a client reconnecting), counted as a failure.
  let cyclesOk = 0;
  let cyclesFailed = 0;
  let loadRunning = true;
  const cycles = Promise.all(Array.from({ length: 3 }, async (_, w) => {
    for (let i = w; loadRunning; i += 3) {
      try {
        await loginCycle({ port: lb.imapsPort, ca, localAddress: `127.21.0.${w + 1}` }, cred(i), 10_000);
        cyclesOk += 1;
      } catch {
        cyclesFailed += 1;
        await sleep(100);
      }
    }
  }));

  const senders = [...tokens].map(([email, token]) => ({ email, token }));
  const sub = new Submitter({
    port: lb.submissionsPort, ca, senders, count: MESSAGES, workers: 6, maxAttempts: 10,
    localAddress: (w) => `127.20.0.${w + 1}`,
  });
  const submitting = sub.run();

  await eventually(() => sub.settled >= MESSAGES * 0.35, 120_000, 'a third of the messages');
  const beforeKill = { a: a.events.get('login') ?? 0, b: b.events.get('login') ?? 0, cyclesOk };
  t.ok(beforeKill.a > 0 && beforeKill.b > 0, `load spread over both instances before the kill (logins: A ${beforeKill.a}, B ${beforeKill.b})`);
  const onA = a.clients;
  t.ok([...onA].some((c) => c.startsWith('127.20.')) && [...onA].some((c) => c.startsWith('127.22.')),
    'the instances see the real client addresses (PROXY protocol v2 from HAProxy)');

  a.child.kill('SIGKILL');
  const killedAt = sub.settled;
  t.comment(`SIGKILL instance A at ${killedAt}/${MESSAGES} messages`);
  await exitWithin(a, 5000);
  await eventually(async () => (await lb.servers('imaps')).get('a') === 'DOWN', 10_000, 'HAProxy to mark A down');
  t.pass('HAProxy marked A DOWN');
  await eventually(() => idlers.every((x) => x.session && !x.session.client.closed), 30_000, 'every IDLE client to be reconnected');
  const reconnected = idlers.reduce((n, x) => n + x.reconnects, 0);
  t.ok(reconnected > 0, `IDLE clients of A reconnected through HAProxy to B (${reconnected} reconnects)`);
  const okAfterKill = cyclesOk;
  await eventually(() => cyclesOk > okAfterKill + 10, 30_000, 'login cycles to go on through B');
  t.pass('login cycles go on through B');

  await submitting;
  // The drain: a second batch is in flight when B gets SIGTERM. Transactions under way
  // finish with 250 (then 421); what comes after finds no instance and is given up.
  const drainBatch = new Submitter({
    port: lb.submissionsPort, ca, senders, count: DRAIN_MESSAGES, workers: 6, maxAttempts: 3,
    localAddress: (w) => `127.20.1.${w + 1}`,
  });
  const draining = drainBatch.run();
  await eventually(() => drainBatch.settled >= 12, 60_000, 'the drain batch to be under way');
  t.comment(`SIGTERM instance B at ${drainBatch.settled}/${DRAIN_MESSAGES} messages of the drain batch`);
  b.child.kill('SIGTERM');
  const code = await exitWithin(b, (GRACE_SECONDS + 10) * 1000);
  t.equal(code, 0, `B exited 0 after draining (output: ${code === 0 ? '' : b.output().slice(-1500)})`);
  t.ok((b.events.get('shutdown-complete') ?? 0) === 1, 'B logged shutdown-complete');
  const byes = idlers.reduce((n, x) => n + x.byes, 0);
  t.ok(byes > 0, `IDLE clients on B got * BYE (${byes})`);

  loadRunning = false;
  idlers.forEach((x) => x.stop());
  for (const x of idlers) x.session?.client.close();
  await cycles;
  await Promise.all(idleLoops);
  await draining;

  await settleDelivery(backend, [alice.email, bob.email]);
  const delivered = new Map<string, number>();
  for (const u of [alice, bob]) for (const [id, n] of await deliveredIds(backend, u.email)) delivered.set(id, (delivered.get(id) ?? 0) + n);
  const acc = account([...sub.records, ...drainBatch.records], delivered);
  const table = formatAccounting(`two instances behind HAProxy: ${MESSAGES} + ${DRAIN_MESSAGES} messages, A SIGKILLed at ${killedAt}, B SIGTERMed during the second batch; `
    + `IMAP login cycles ${cyclesOk} ok / ${cyclesFailed} failed and retried; ${reconnected} IDLE reconnects, ${byes} * BYE`, acc);
  for (const l of table.split('\n')) process.stdout.write(`# ${l}\n`);
  t.equal(acc.missing, 0, 'no acknowledged message is missing');
  t.same(acc.violations, [], 'every copy in the mailboxes is explained');
  t.equal(sub.records.filter((r) => r.acked).length, MESSAGES, 'every message of the main batch acknowledged despite the SIGKILL');
  t.ok(drainBatch.records.some((r) => r.acked && r.attempts.length === 1 && drainBatch.records.indexOf(r) >= 12),
    'transactions in flight at SIGTERM were finished by B');
  for (const p of [a, b]) t.notMatch(p.output(), /"event":"internal-error"/, 'no internal-error logged');
});
