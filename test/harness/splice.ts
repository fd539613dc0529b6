// The splice (src/net/splice.ts) with its end as a promise, for tests that drive it directly.
import net from 'node:net';
import { once } from 'node:events';
import { Splice, type SpliceResult } from '../../src/net/splice.js';

export class AwaitedSplice extends Splice {
  readonly done: Promise<SpliceResult>;
  private resolve!: (r: SpliceResult) => void;

  constructor(client: net.Socket, backend: net.Socket, opts: { idleTimeoutMs: number }) {
    super(client, backend, opts.idleTimeoutMs);
    this.done = new Promise((r) => (this.resolve = r));
  }

  protected ended(r: SpliceResult): void {
    this.resolve(r);
  }
}

export const splice = (client: net.Socket, backend: net.Socket, opts: { idleTimeoutMs: number }): AwaitedSplice => new AwaitedSplice(client, backend, opts);

/** A connected pair over loopback, both ends allowing half-open: `far` is the peer, `near` the proxy's accepted side. */
export async function connectedPair(): Promise<{ far: net.Socket; near: net.Socket }> {
  const server = net.createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const far = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  const [near] = await accepted;
  server.close();
  return { far, near };
}
