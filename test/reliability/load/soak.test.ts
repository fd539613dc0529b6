// Soak (issue 7): login/logout cycles, then many IDLE sessions held, against the real CLI
// in a child process started with --inspect. A reading waits SETTLE_MS, forces full GCs
// through the inspector (inspector.ts), then takes the child's process.memoryUsage(), VmRSS
// and descriptor count.
//
// CI size by default; the full size with SOAK_FULL=1 (10,000 cycles, 1,000 IDLE
// sessions held 60 s). Each count can be set on its own: SOAK_CYCLES (cycles after the
// warm-up, in CYCLE_ROUNDS equal rounds), SOAK_WARMUP, SOAK_IDLE, SOAK_IDLE_SECONDS,
// SOAK_IDLE_ROUNDS.
//
// Why these bounds: RSS read right after a burst of logins mixes the allocator's high-water
// mark (glibc keeps freed TLS buffers) with leaks; it failed a 30 MiB bound at 32.5 MiB while
// the JS heap had fallen. The heap after a forced full GC holds only what is still referenced,
// so a leak shows there as growth from round to round. Round 1's end is the reference (JIT,
// caches and allocator high-water settle by then), compared with the last round's end:
// - JS heap used after GC grows < HEAP_GROWTH_MAX_KIB (measured: +88..+231 KiB). The CI size
//   compares 3 × 375 = 1,125 cycles: a leak of 1 KiB per cycle adds 1,125 KiB and fails (from
//   ~0.6 KiB per cycle); the full size compares 7,500 cycles (fails from ~0.1 KiB per cycle);
// - external memory after GC (C++ objects held by JS; includes arrayBuffers, i.e. Buffers)
//   grows < EXTERNAL_GROWTH_MAX_KIB (measured: 0 KiB): 1 KiB of Buffer per cycle adds 1,125 KiB;
// - RSS is read twice: as is, and after glibc gave its free memory back (malloc_trim(0) via
//   gdb, malloc-trim.ts). 1,000 IDLE sessions leave 61-64 MiB of RSS behind every round that
//   the allocator holds free (a later round does not fully reuse it: 61, 40, 32 MiB more over
//   three rounds untrimmed), and trimming brings it back to within 1 MiB of the start: not a
//   leak, and trimmed RSS is what a leak would move. Trimmed RSS grows < RSS_GROWTH_MAX_MIB
//   over the cycles (a native leak of 8 KiB per cycle in CI, 1.1 KiB at full size, fails);
// - IDLE in rounds: JS heap after GC back within IDLE_HEAP_RETAINED_MAX_KIB of the reading
//   before the round (measured: -116..+194 KiB; fails from ~1.7 KiB per session at 300, 0.5 KiB
//   at 1,000); RSS kept by the allocator < IDLE_RETAINED_MAX_KIB_PER_SESSION per session;
//   trimmed RSS back within TRIMMED_RSS_RETAINED_MAX_MIB (8 KiB per session at 1,000 fails);
// - descriptors back to the baseline ± FD_SLACK after each round.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackend } from '../../harness/backend.js';
import { startIdp } from '../../harness/idp.js';
import { makeCerts } from '../../harness/certs.js';
import { eventually } from '../../harness/proxy.js';
import { MiB, startCliProxy } from './cli-proxy.js';
import { connectInspector } from './inspector.js';
import { mallocTrim } from './malloc-trim.js';
import { loginCycle, openIdle, runPool, type Credential, type IdleSession } from './imap-load.js';
import { sendInbound } from './mailbox.js';

const int = (v: string | undefined, d: number): number => (v && /^\d+$/.test(v) ? Number(v) : d);
const FULL = process.env.SOAK_FULL === '1';
const CYCLES = int(process.env.SOAK_CYCLES, FULL ? 10_000 : 1500);
const CYCLE_ROUNDS = 4;
const IDLE = int(process.env.SOAK_IDLE, FULL ? 1000 : 300);
const IDLE_SECONDS = int(process.env.SOAK_IDLE_SECONDS, FULL ? 60 : 15);
/** Enough cycles for V8 and the allocator to reach their working size before the baseline. */
const WARMUP = int(process.env.SOAK_WARMUP, FULL ? 2000 : 1000);
const CYCLE_CONCURRENCY = 16;
const IDLE_OPEN_CONCURRENCY = 24;
/** IDLE clients are spread over this many loopback source addresses (10 per address at 1,000). */
const IDLE_SOURCE_ADDRESSES = 100;
/** Closed sockets and timers of the last sessions finish before the GC. */
const SETTLE_MS = 1500;
export const HEAP_GROWTH_MAX_KIB = 640;
export const EXTERNAL_GROWTH_MAX_KIB = 256;
export const RSS_GROWTH_MAX_MIB = 8;
export const TRIMMED_RSS_RETAINED_MAX_MIB = 8;
export const IDLE_HEAP_RETAINED_MAX_KIB = 512;
export const IDLE_RETAINED_MAX_KIB_PER_SESSION = 100;
const IDLE_ROUNDS = int(process.env.SOAK_IDLE_ROUNDS, 2);
export const FD_SLACK = 5;

t.setTimeout(FULL ? 30 * 60_000 : 170_000);

// Dovecot as DMS ships it (mail_max_userip_connections = 10) but with room for 1,000 IMAP
// sessions: imap processes, and imap-login in high-performance mode (with TLS to Dovecot a
// login process stays in every session as its TLS proxy; the default allows 100). The
// per-IP limit holds because the proxy forwards each client's address.
const backend = await startBackend({
  dovecotConf: [
    'default_client_limit = 5000',
    'service imap {', '  process_limit = 2500', '}',
    'service imap-login {', '  service_count = 0', '  client_limit = 1000', '  process_min_avail = 2', '  process_limit = 8', '}',
    'service anvil {', '  client_limit = 6000', '}',
    // Past fs.inotify.max_user_instances (128 here) IDLE falls back to polling the mailbox
    // every mailbox_idle_check_interval (30 s): make that short so the wake-up check is quick.
    'mailbox_idle_check_interval = 2 secs',
  ].join('\n'),
});
t.teardown(() => backend.stop());
const idp = await startIdp();
t.teardown(() => idp.stop());
const dir = mkdtempSync(join(tmpdir(), 'omp-soak-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certs = await makeCerts(dir, { prefix: 'proxy-' });
const ca = readFileSync(certs.caFile, 'utf8');
// V8 flushes the bytecode of functions unused for 5 natural full GCs (forced ones do not age
// it): startup code went at a random point of the first rounds, ~0.7 MiB of heap that would
// hide as much growth. Keeping all bytecode makes the heap comparable from round to round.
const proxy = await startCliProxy({
  backend, userinfoUrl: idp.userinfoUrl, certs, env: { LOG_LEVEL: 'info' }, inspect: true, nodeArgs: ['--no-flush-bytecode'],
});
t.teardown(() => proxy.kill());
await eventually(async () => (await proxy.ready()) === 200, 30_000, `the CLI to be ready (${proxy.output().slice(-1500)})`);
const inspector = await connectInspector(await proxy.inspectorUrl(), 30_000);
// If a test fails before the last one closes it.
t.teardown(() => inspector.close());

const [alice, bob] = backend.users as [typeof backend.users[0], typeof backend.users[0]];
const tokens = new Map([[alice.email, await idp.mintToken(alice.email)], [bob.email, await idp.mintToken(bob.email)]]);
/** 9 in 10 logins with a token (the token cache makes the IdP cheap), 1 in 10 with a password. */
function credential(i: number): Credential {
  const u = i % 2 ? bob : alice;
  return i % 10 === 9 ? { kind: 'password', user: u.email, password: u.password } : { kind: 'token', user: u.email, token: tokens.get(u.email)! };
}

/** Sizes in KiB, after a forced full GC; `trimmedKiB`: RSS once glibc gave its free memory back. */
interface Reading { heapKiB: number; externalKiB: number; arrayBuffersKiB: number; rssKiB: number; trimmedKiB: number; fds: number }
async function reading(): Promise<Reading> {
  await sleep(SETTLE_MS);
  await inspector.collectGarbage();
  const m = await inspector.memoryUsage();
  const kib = (b: number): number => Math.round(b / 1024);
  const rssKiB = proxy.rssKiB();
  mallocTrim(proxy.pid);
  return { heapKiB: kib(m.heapUsed), externalKiB: kib(m.external), arrayBuffersKiB: kib(m.arrayBuffers), rssKiB, trimmedKiB: proxy.rssKiB(), fds: proxy.fds() };
}
const show = (r: Reading): string =>
  `heap ${r.heapKiB} KiB, external ${r.externalKiB} KiB (buffers ${r.arrayBuffersKiB}), RSS ${MiB(r.rssKiB)} (${MiB(r.trimmedKiB)} trimmed), fds ${r.fds}`;
const diffKiB = (a: number, b: number): string => `${b - a >= 0 ? '+' : ''}${b - a} KiB`;
const figures: string[] = [];
const cycle = (i: number): Promise<void> => loginCycle({ port: proxy.imapsPort, ca }, credential(i));

t.test(`${CYCLES} connect/login/logout cycles in ${CYCLE_ROUNDS} rounds: no growth from round to round`, async (t) => {
  const start = proxy.rssKiB();
  const warm = await runPool(WARMUP, CYCLE_CONCURRENCY, cycle);
  t.same(Object.fromEntries(warm), {}, 'warm-up cycles all succeed');
  const base = await reading();
  t.comment(`at start: RSS ${MiB(start)}; after ${WARMUP} warm-up cycles: ${show(base)}`);
  const perRound = Math.ceil(CYCLES / CYCLE_ROUNDS);
  const ends: Reading[] = [];
  let peak = 0;
  const t0 = Date.now();
  for (let r = 1; r <= CYCLE_ROUNDS; r++) {
    const sampler = setInterval(() => { peak = Math.max(peak, proxy.rssKiB()); }, 500);
    const errors = await runPool(perRound, CYCLE_CONCURRENCY, (i) => cycle(WARMUP + (r - 1) * perRound + i));
    clearInterval(sampler);
    t.same(Object.fromEntries(errors), {}, `round ${r}: all ${perRound} cycles succeed`);
    const end = await reading();
    ends.push(end);
    const ref = r === 1 ? base : ends[0]!;
    t.comment(`round ${r}/${CYCLE_ROUNDS} (${perRound} cycles): ${show(end)}; since ${r === 1 ? 'warm-up' : 'round 1'}: `
      + `heap ${diffKiB(ref.heapKiB, end.heapKiB)}, external ${diffKiB(ref.externalKiB, end.externalKiB)}, RSS trimmed ${diffKiB(ref.trimmedKiB, end.trimmedKiB)}`);
    t.ok(Math.abs(end.fds - base.fds) <= FD_SLACK, `round ${r}: descriptors back to baseline: ${base.fds} → ${end.fds} (± ${FD_SLACK})`);
  }
  const secs = (Date.now() - t0) / 1000;
  const first = ends[0]!;
  const last = ends[ends.length - 1]!;
  const compared = perRound * (CYCLE_ROUNDS - 1);
  const heap = last.heapKiB - first.heapKiB;
  const external = last.externalKiB - first.externalKiB;
  const rss = (last.trimmedKiB - first.trimmedKiB) / 1024;
  const line = `${perRound * CYCLE_ROUNDS} cycles in ${CYCLE_ROUNDS} rounds in ${secs.toFixed(1)} s (${((perRound * CYCLE_ROUNDS) / secs).toFixed(0)}/s, `
    + `${CYCLE_CONCURRENCY} at once), after ${WARMUP} warm-up: after warm-up ${show(base)}; peak RSS ${MiB(peak)}; `
    + `end of round 1 ${show(first)}; end of round ${CYCLE_ROUNDS} ${show(last)}; over the last ${compared} cycles: `
    + `heap ${diffKiB(first.heapKiB, last.heapKiB)}, external ${diffKiB(first.externalKiB, last.externalKiB)}, RSS trimmed ${rss.toFixed(1)} MiB`;
  figures.push(line);
  t.comment(line);
  t.ok(heap < HEAP_GROWTH_MAX_KIB, `JS heap after GC grew ${heap} KiB over ${compared} cycles < ${HEAP_GROWTH_MAX_KIB} KiB`);
  t.ok(external < EXTERNAL_GROWTH_MAX_KIB, `external memory after GC grew ${external} KiB over ${compared} cycles < ${EXTERNAL_GROWTH_MAX_KIB} KiB`);
  t.ok(rss < RSS_GROWTH_MAX_MIB, `RSS (trimmed) grew ${rss.toFixed(1)} MiB over ${compared} cycles < ${RSS_GROWTH_MAX_MIB} MiB`);
});

const idleRound = (round: number) => async (t: Test): Promise<void> => {
  const before = await reading();
  const sessions: IdleSession[] = [];
  const t0 = Date.now();
  const errors = await runPool(IDLE, IDLE_OPEN_CONCURRENCY, async (i) => {
    const localAddress = `127.10.${Math.floor((i % IDLE_SOURCE_ADDRESSES) / 250)}.${(i % IDLE_SOURCE_ADDRESSES) % 250 + 1}`;
    sessions.push(await openIdle({ port: proxy.imapsPort, ca, localAddress }, credential(i)));
  });
  const openSecs = (Date.now() - t0) / 1000;
  t.same(Object.fromEntries(errors), {}, `all ${IDLE} sessions logged in and idling (${openSecs.toFixed(1)} s to open)`);
  const during = { rssKiB: proxy.rssKiB(), fds: proxy.fds(), active: await proxy.metric('oauth2_mail_proxy_sessions_active') };
  t.comment(`holding ${sessions.length} IDLE sessions: RSS ${MiB(during.rssKiB)}, fds ${during.fds}, sessions_active ${during.active}`);
  t.ok(during.fds >= before.fds + 2 * sessions.length - FD_SLACK, `two descriptors per spliced session (client + backend): ${during.fds}`);

  // Mid-hold, one inbound message for alice: every alice session must see it (live splices).
  await sleep(Math.max(0, IDLE_SECONDS * 1000 / 2));
  await sendInbound(backend, alice.email, 'soak-idle-wakeup');
  const aliceSessions = sessions.filter((s) => s.user === alice.email);
  const woke = await Promise.all(aliceSessions.map((s) => s.sawExists(15_000)));
  t.equal(woke.filter(Boolean).length, aliceSessions.length, `all ${aliceSessions.length} of alice's IDLE sessions saw * EXISTS`);
  await sleep(Math.max(0, IDLE_SECONDS * 1000 / 2));
  const peak = proxy.rssKiB();

  const closed = sessions.filter((s) => s.client.closed).length;
  t.equal(closed, 0, `no session was dropped during the ${IDLE_SECONDS} s hold`);
  const finished = await Promise.all(sessions.map((s) => s.finish()));
  t.equal(finished.filter(Boolean).length, sessions.length, 'every session answered DONE and LOGOUT');
  const after = await reading();
  const heap = after.heapKiB - before.heapKiB;
  // Both from a trimmed start: what the allocator kept after this round, and what is still allocated.
  const retained = (after.rssKiB - before.trimmedKiB) / 1024;
  const kept = (after.trimmedKiB - before.trimmedKiB) / 1024;
  const line = `round ${round}: ${sessions.length} IDLE sessions (opened in ${openSecs.toFixed(1)} s, held ${IDLE_SECONDS} s, from ${IDLE_SOURCE_ADDRESSES} source addresses): `
    + `before ${show(before)}; while held RSS ${MiB(peak)}, fds ${during.fds}; after ${show(after)}; `
    + `retained heap ${diffKiB(before.heapKiB, after.heapKiB)}, external ${diffKiB(before.externalKiB, after.externalKiB)}, RSS ${retained.toFixed(1)} MiB (${kept.toFixed(1)} MiB trimmed)`;
  figures.push(line);
  t.comment(line);
  t.ok(heap < IDLE_HEAP_RETAINED_MAX_KIB, `JS heap after GC retained after round ${round} ${heap} KiB < ${IDLE_HEAP_RETAINED_MAX_KIB} KiB`);
  // glibc keeps freed native TLS buffers (~64 KiB per session at 1,000) until trimmed; once
  // trimmed, nothing of the round may remain.
  const bound = (IDLE_RETAINED_MAX_KIB_PER_SESSION * sessions.length) / 1024;
  t.ok(retained < bound, `RSS kept by the allocator after round ${round} ${retained.toFixed(1)} MiB < ${bound.toFixed(0)} MiB`);
  t.ok(kept < TRIMMED_RSS_RETAINED_MAX_MIB, `RSS still allocated after round ${round} (trimmed) ${kept.toFixed(1)} MiB < ${TRIMMED_RSS_RETAINED_MAX_MIB} MiB`);
  t.ok(Math.abs(after.fds - before.fds) <= FD_SLACK, `descriptors back to baseline: ${before.fds} → ${after.fds} (± ${FD_SLACK})`);
  t.equal(await proxy.metric('oauth2_mail_proxy_sessions_active'), 0, 'sessions_active back to 0');
};
for (let r = 1; r <= IDLE_ROUNDS; r++) {
  t.test(`round ${r}: ${IDLE} concurrent IDLE sessions held ${IDLE_SECONDS} s: all alive, then released`, idleRound(r));
}

t.test('the process is still healthy and stops cleanly', async (t) => {
  t.equal(await proxy.ready(), 200);
  await inspector.close();
  proxy.child.kill('SIGTERM');
  const code = await Promise.race([proxy.exited, sleep(15_000, 'timeout')]);
  t.equal(code, 0, 'exit code 0 after SIGTERM');
  t.notMatch(proxy.output(), /"event":"internal-error"/, 'no internal-error logged');
  for (const f of figures) process.stdout.write(`# SOAK ${f}\n`);
});
