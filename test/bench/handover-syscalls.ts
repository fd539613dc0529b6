// The backend socket's hand-over from the login's line reader to the splice, N times, for a
// system-call count under strace (issue 21: `epoll_ctl` per hand-over): a greeted plaintext
// backend socket (reused reads), LineReader, detach(), splice(), one command and Dovecot's BYE.
// Usage: strace -f -c -e trace=epoll_ctl node --import tsx test/bench/handover-syscalls.ts [N] [BUILD/src]
import net from 'node:net';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const N = Number(process.argv[2] ?? 200);
const srcDir = process.argv[3] ? resolve(process.argv[3]) : join(import.meta.dirname, '..', '..', 'src');
const ext = process.argv[3] ? '.js' : '.ts';
const load = async <T>(path: string): Promise<T> => await import(pathToFileURL(join(srcDir, `${path}${ext}`)).href) as T;
const { connectTcp } = await load<typeof import('../../src/backend/dial.js')>('backend/dial');
const { LineReader } = await load<typeof import('../../src/backend/line-reader.js')>('backend/line-reader');
// A build from before issue 21's splice class exported splice() with a `done` promise.
type Ended = { done: Promise<unknown> };
const mod = await load<Record<string, unknown>>('net/splice');
const splice = (mod.splice as ((c: net.Socket, b: net.Socket, o: { idleTimeoutMs: number }) => Ended) | undefined) ?? ((c, b, o) => {
  const Base = mod.Splice as new (c: net.Socket, b: net.Socket, idleMs: number) => object;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  new (class extends Base { ended(): void { resolve(); } })(c, b, o.idleTimeoutMs);
  return { done };
});

const server = net.createServer({ allowHalfOpen: true }, (s) => {
  s.write('* OK greeting\r\n');
  s.on('data', () => s.end('* BYE\r\n'));
  s.on('error', () => undefined);
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const front = net.createServer({ allowHalfOpen: true });
front.listen(0, '127.0.0.1');
await once(front, 'listening');
try {
  for (let i = 0; i < N; i++) {
    const accepted = once(front, 'connection') as Promise<[net.Socket]>;
    const client = net.connect({ port: (front.address() as net.AddressInfo).port, host: '127.0.0.1' });
    const [proxySide] = await accepted;
    const backend = await connectTcp('127.0.0.1', (server.address() as net.AddressInfo).port, 5000, { reuseReads: true });
    const reader = new LineReader(backend);
    await reader.readLine();
    const early = reader.detach();
    if (early.length) proxySide.write(early);
    const s = splice(proxySide, backend, { idleTimeoutMs: 60_000 });
    client.write('a1 NOOP\r\n');
    client.resume();
    await s.done;
    client.destroy();
  }
} finally {
  server.close();
  front.close();
}
