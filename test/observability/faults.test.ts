// The process-level guard the CLI installs (issue 16): what escapes every listener's own
// containment is logged and counted, and the process keeps running. Run in a child process:
// without the guard, Node ends a process on an unhandled rejection or uncaught exception.
import t from 'tap';
import { spawn } from 'node:child_process';
import { contained } from '../../src/observability/faults.js';

const root = new URL('../../', import.meta.url).pathname;

t.test('an unhandled rejection and an uncaught exception: logged, counted, the process lives', async (t) => {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), 'test/observability/fixtures/escaped-faults.ts'], {
    cwd: root, env: { PATH: process.env.PATH, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  t.equal(code, 0, `exited by itself with 0 (output: ${out.slice(-1500)})`);
  t.match(out, /alive, counted 2\n/);
  const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.same(lines.filter((l) => l.event === 'internal-error').map((l) => [l.site, l.where]).sort(), [['process', 'uncaughtException'], ['process', 'unhandledRejection']]);
});

t.test('contained(): a throw goes to the fault handler, once per call, never up the caller', async (t) => {
  const seen: unknown[] = [];
  const f = contained((x: number) => { if (x > 1) throw new Error(`bad ${x}`); }, (err) => seen.push((err as Error).message));
  f(1);
  f(2);
  t.same(seen, ['bad 2']);
  const g = contained(() => { throw new Error('first'); }, () => { throw new Error('the handler too'); });
  t.doesNotThrow(() => g(), 'a throwing fault handler is swallowed as well');
});
