// A TCP forwarder the test can cut: a replica's only path to the shared store. cut() resets
// every connection through it and resets each new one at once (the store is unreachable for
// that replica alone, while the other replicas still reach it); mend() lets connections
// through again. Bytes are piped as they come.
import net from 'node:net';
import { HOST } from './ports.js';

export interface TcpCut {
  readonly port: number;
  cut(): void;
  mend(): void;
  stop(): Promise<void>;
}

export async function startTcpCut(targetPort: number): Promise<TcpCut> {
  const open = new Set<net.Socket>();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) { client.resetAndDestroy(); return; }
    const upstream = net.connect(targetPort, HOST);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('error', () => undefined);
      s.on('close', () => { open.delete(s); client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      cut = true;
      for (const s of open) s.resetAndDestroy();
    },
    mend() { cut = false; },
    async stop() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
