// A TCP listener that hands each accepted socket to a session factory. Implicit TLS is
// started by the session itself (same code path as STARTTLS), so the listener stays a
// plain net.Server and later stages (PROXY protocol) can read before TLS.
import net from 'node:net';
import type { ListenAddress } from '../config/types.js';

export interface Listener {
  readonly name: string;
  readonly server: net.Server;
  address(): net.AddressInfo;
  close(): Promise<void>;
}

export async function listen(name: string, at: ListenAddress, onSocket: (socket: net.Socket) => void): Promise<Listener> {
  // allowHalfOpen: a client's FIN must reach the backend as a FIN, not close our side.
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, onSocket);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    name,
    server,
    address: () => server.address() as net.AddressInfo,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
