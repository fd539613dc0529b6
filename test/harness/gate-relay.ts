// A TCP relay in front of a backend port (a fault injected by hand): hold() keeps what the
// backend says until release(), open() counts the backend legs, sent() is everything the
// proxy wrote to the backend. Everything it opened is closed at teardown (or at stop()).
import net from 'node:net';
import { HOST } from './ports.js';

export interface GateRelay {
  readonly port: number;
  hold(): void;
  release(): void;
  /** Backend connections open now. */
  open(): number;
  /** What the proxy sent the backend so far, as latin1. */
  sent(): string;
  stop(): void;
}

export async function startGateRelay(t: { teardown(fn: () => unknown): void }, target: number, host = HOST): Promise<GateRelay> {
  let held = false;
  let sent = '';
  const queued: Array<() => void> = [];
  const upstreams = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const up = net.connect(target, host);
    upstreams.add(up);
    for (const s of [client, up]) {
      s.on('error', () => undefined);
      s.on('close', () => { upstreams.delete(up); client.destroy(); up.destroy(); });
    }
    client.on('data', (d: Buffer) => { sent += d.toString('latin1'); up.write(d); });
    up.on('data', (d: Buffer) => (held ? queued.push(() => client.write(d)) : client.write(d)));
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  const stop = (): void => { for (const s of upstreams) s.destroy(); server.close(); };
  t.teardown(stop);
  return {
    port: (server.address() as net.AddressInfo).port,
    hold: () => { held = true; },
    release: () => { held = false; for (const f of queued.splice(0)) f(); },
    open: () => upstreams.size,
    sent: () => sent,
    stop,
  };
}
