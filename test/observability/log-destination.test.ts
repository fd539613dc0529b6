// What the log destination owes an operator (src/observability/logger.ts): with stdout a
// pipe, every line arrives whole, once and in order, in UTF-8 — when the reader is slow (a
// full pipe: EAGAIN on the non-blocking fd), when the process ends by itself, calls
// process.exit, dies of an uncaught exception, or is stopped with SIGTERM (the real CLI).
// Memory is bounded: while stdout is not read, lines past 16 MiB waiting are dropped (the
// newest ones); what was kept still arrives in order.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from '../harness/ports.js';
import { spawnCli } from '../harness/cli-process.js';
import { eventually } from '../harness/proxy.js';

const root = new URL('../../', import.meta.url).pathname;
const PAD = `é✓😀 ${'x'.repeat(200)}`;

/** Runs the fixture; stdout is not read for `stallMs` (the pipe fills), then read to the end. */
async function run(mode: string, lines: number, stallMs = 0): Promise<{ code: number | null; out: Buffer; err: string }> {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), 'test/observability/fixtures/log-lines.ts', mode, String(lines)], {
    cwd: root, env: { PATH: process.env.PATH, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const chunks: Buffer[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  if (stallMs > 0) await sleep(stallMs);
  child.stdout.on('data', (d: Buffer) => chunks.push(d));
  const code = await exited;
  clearTimeout(timer);
  return { code, out: Buffer.concat(chunks), err };
}

/** The numbers of the probe lines, checking each is a whole line with its text intact. */
function probes(t: Test, out: Buffer): number[] {
  const text = out.toString('utf8');
  t.ok(text.endsWith('\n'), 'ends with a whole line');
  t.notOk(text.includes('\uFFFD'), 'valid UTF-8 throughout');
  const seen: number[] = [];
  let bad = 0;
  for (const line of text.split('\n').filter(Boolean)) {
    const o = JSON.parse(line) as Record<string, unknown>;
    if (o.event !== 'probe' || o.pad !== PAD || o.msg !== 'line' || o.svc !== 'oauth2-mail-proxy') bad += 1;
    else seen.push(o.i as number);
  }
  t.equal(bad, 0, 'no line garbled or merged');
  return seen;
}

const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);

for (const mode of ['return', 'exit', 'fatal'] as const) {
  t.test(`${mode}: every line arrives once, in order`, async (t) => {
    const r = await run(mode, 5000);
    t.equal(r.code, mode === 'fatal' ? 1 : 0, r.err.slice(-500));
    t.same(probes(t, r.out), upTo(5000));
  });
}

t.test('a line is measured once, not the whole batch waiting again on every line (issue 21)', async (t) => {
  const r = await run('measure', 200);
  t.equal(r.code, 0, r.err.slice(-500));
  t.same(probes(t, r.out), upTo(200));
  const longest = Number(/longest measured: (\d+)/.exec(r.err)?.[1]);
  t.ok(longest < 1000, `no string longer than a line measured (longest: ${longest} characters)`);
});

t.test('a slow reader: lines wait (EAGAIN on the full pipe) and arrive, in order', async (t) => {
  const r = await run('paced', 20_000, 1500);
  t.equal(r.code, 0, r.err.slice(-500));
  t.same(probes(t, r.out), upTo(20_000));
});

t.test('process.exit with the pipe full: the exit waits for the reader, nothing is lost', async (t) => {
  const r = await run('exit', 20_000, 1500);
  t.equal(r.code, 0, r.err.slice(-500));
  t.same(probes(t, r.out), upTo(20_000));
});

t.test('stdout not read: past 16 MiB waiting the newest lines are dropped, the rest arrive in order', async (t) => {
  const lines = 120_000; // ~29 MB of lines logged while nothing is written
  const r = await run('exit', lines, 1500);
  t.equal(r.code, 0, r.err.slice(-500));
  const seen = probes(t, r.out);
  t.ok(seen.length < lines, `some dropped (${seen.length} of ${lines} arrived)`);
  t.ok(r.out.length <= 16 * 1024 * 1024 + 64 * 1024, `at most 16 MiB (and one write) kept: ${r.out.length}`);
  t.ok(r.out.length >= 15 * 1024 * 1024, `the buffer was used up to its bound: ${r.out.length}`);
  t.same(seen, upTo(seen.length), 'the oldest lines, in order');
});

t.test('the real CLI on SIGTERM: its shutdown lines arrive, last of all', async (t) => {
  const [imap, httpPort] = await freePorts(2) as [number, number];
  const cli = spawnCli({
    LISTEN_IMAPS: '', LISTEN_SUBMISSIONS: '', LISTEN_SUBMISSION: '', ALLOW_PLAINTEXT_AUTH: '1', LISTEN_IMAP: `127.0.0.1:${imap}`,
    OAUTH2_INTROSPECTION_URL: 'http://127.0.0.1:9/introspect', DMS_HOST: '127.0.0.1', DMS_MASTER_USER: 'm', DMS_MASTER_PASSWORD: 'p', LOG_LEVEL: 'info',
  }, httpPort);
  t.teardown(() => cli.kill());
  await eventually(() => cli.output().includes('"listener":"http"'), 90_000, `the CLI to listen (output: ${cli.output().slice(-1000)})`);
  cli.child.kill('SIGTERM');
  const { code } = await cli.exited;
  t.equal(code, 0);
  const events = cli.output().split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { event: string }).event);
  t.same(events.slice(-2), ['shutdown', 'shutdown-complete'], cli.output().slice(-1000));
});
