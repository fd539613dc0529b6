// A TCP listener whose connection handler throws (issue 16): that connection is closed and
// the fault counted; the listener keeps accepting and nothing reaches the process.
import t from 'tap';
import net from 'node:net';
import { listen } from '../../src/net/listen.js';
import { createLogger } from '../../src/observability/logger.js';
import { metrics } from '../../src/observability/metrics.js';
import { recordCrashes } from '../reliability/fakes/leaks.js';

const crashes = recordCrashes();
t.teardown(() => crashes.dispose());
const faults = async (): Promise<number> => (await metrics.internalErrors?.get())?.values.find((v) => v.labels.listener === 'imap')?.value ?? 0;

t.test('a throw in the connection handler closes that connection only', async (t) => {
  let n = 0;
  const l = await listen('test', { host: '127.0.0.1', port: 0 }, (socket) => {
    n += 1;
    if (n === 1) throw new Error('injected: accept');
    socket.end('hello\r\n');
  }, { faults: { log: createLogger('silent'), site: 'imap' } });
  t.teardown(() => l.close());
  const before = await faults();
  const talk = () => new Promise<string>((resolve) => {
    const c = net.connect(l.address().port, '127.0.0.1');
    let got = '';
    c.on('data', (d: Buffer) => { got += d.toString(); });
    c.on('error', () => undefined);
    c.on('close', () => resolve(got));
    setTimeout(() => { c.destroy(); resolve(`${got}(still open)`); }, 3000).unref();
  });
  t.equal(await talk(), '', 'the faulty connection is closed without a word');
  t.equal(await faults(), before + 1, 'counted');
  t.equal(await talk(), 'hello\r\n', 'the next connection is served');
  t.equal(crashes.describe(), '', 'nothing reached the process');
});
