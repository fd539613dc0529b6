// The pre-login connection's back-pressure wait (mustWaitForDrain): the callback it runs on
// 'drain' goes on with the client's commands, so a throw there must end the session like a
// throw in any other of its callbacks (fault(): an internal-error line, the farewell, the
// connection closed), never reach the process. It was the one socket callback left bare.
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { PreauthConnection } from '../../src/session/connection.js';
import { createLogger } from '../../src/observability/logger.js';

class DrainThrows extends PreauthConnection {
  static last: DrainThrows | undefined;
  waited = false;
  constructor(...args: ConstructorParameters<typeof PreauthConnection>) {
    super(...args);
    DrainThrows.last = this;
  }
  protected greeting(): string { return '* OK hi\r\n'; }
  protected greeted(): void {}
  protected farewell(text: string): string { return `* BYE ${text}\r\n`; }
  protected ended(): void {}
  protected received(): void {
    // A reply more than loopback's socket buffers hold (so part of it waits in Node), then
    // wait for the client to take it.
    this.send(`* ${'x'.repeat(32 << 20)}\r\n`);
    this.waited = this.mustWaitForDrain(() => { throw new Error('injected: a bug in what runs after drain'); });
  }
}

t.test('a throw in the drain callback ends the session with an internal-error line; the process goes on', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger('debug', { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    new DrainThrows(socket, false, { protocol: 'imap', log, tlsContext: null, preauthTimeoutMs: 60_000, texts: { timeout: 'timeout', internalError: 'Internal error' } }).start();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  t.teardown(() => client.destroy());
  client.pause(); // take nothing until the proxy side waits for drain
  await once(client, 'connect');
  client.write('a1 NOOP\r\n');
  await new Promise((r) => setTimeout(r, 300));
  let got = '';
  client.on('data', (d: Buffer) => { got += d.toString('latin1'); });
  client.resume();
  await Promise.race([once(client, 'close'), new Promise((r) => setTimeout(r, 10_000))]);
  t.ok(DrainThrows.last?.waited, 'the session waited for drain (else this test tries nothing)');
  t.match(got.slice(-40), /\* BYE Internal error\r\n$/, 'the internal-error farewell after the big reply');
  t.match(lines.find((l) => l.event === 'internal-error'), { where: 'drain' }, 'reported as a fault of the drain callback');
  t.ok(client.destroyed || client.readableEnded, 'the connection is closed');
});
