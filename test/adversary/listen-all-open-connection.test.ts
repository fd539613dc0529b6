// Adversary finding: a start that fails half way (the second listener's port taken) closed
// the listeners already bound with server.close(), which waits for every connection they
// accepted: a client that connected to the first port in between (it was greeted: the port
// was live) kept the failed start from ever returning, until it left (a logged-in client:
// for its idle timeout). The failure must come back at once and leave no connection open.
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { listen, listenAll, type Listener } from '../../src/net/listen.js';
import { createLogger } from '../../src/observability/logger.js';

const opts = { faults: { log: createLogger('silent'), site: 'imap' as const } };

t.test('a client connected to the first listener does not hold up a failed start', async (t) => {
  const taken = net.createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  t.teardown(() => taken.close());
  const takenPort = (taken.address() as net.AddressInfo).port;

  let first: Listener | undefined;
  let client: net.Socket | undefined;
  let arrived: () => void = () => undefined;
  const accepted = new Promise<void>((resolve) => { arrived = resolve; });
  const bindFirst = async (): Promise<Listener> => {
    first = await listen('first', { host: '127.0.0.1', port: 0 }, (socket) => { socket.write('* OK hello\r\n'); arrived(); }, opts);
    return first;
  };
  const bindSecond = async (): Promise<Listener> => {
    // A client arrives on the first port while the second is being bound.
    client = net.connect(first!.address().port, '127.0.0.1');
    client.on('error', () => undefined).resume();
    await accepted;
    return listen('second', { host: '127.0.0.1', port: takenPort }, () => undefined, opts);
  };
  const started = Date.now();
  const outcome = await Promise.race([
    listenAll([bindFirst, bindSecond]).then(() => 'started', (err: NodeJS.ErrnoException) => err.code ?? String(err)),
    new Promise<string>((r) => setTimeout(() => r('still waiting after 3 s'), 3000)),
  ]);
  t.teardown(() => client?.destroy());
  t.equal(outcome, 'EADDRINUSE', 'the bind error comes back');
  t.ok(Date.now() - started < 2000, 'at once, not when the client leaves');
  const closed = await Promise.race([once(client!, 'close').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]);
  t.ok(closed, 'the connection accepted on the first port is closed');
});
