// A timestamping TCP relay for the login-phase breakdown: put between a proxy and Dovecot (or
// the IdP), it forwards bytes unchanged and records when each connection was accepted and when
// each chunk went by, so the bench can see backend connect, backend greeting, the login command
// and the backend's OK of one login without touching the proxy's code. Times are wall-clock ms
// with sub-ms precision (performance.timeOrigin + now()), comparable across processes.
//
// It runs in the bench's process; each crossing costs one event-loop turn (~0.05 ms), which
// the phase table shows in its "direct via relay" column.
import net from 'node:net';
import { performance } from 'node:perf_hooks';

export const wallMs = (): number => performance.timeOrigin + performance.now();

export interface TapEvent {
  readonly conn: number;
  /** 'up': from the relay's client (the proxy) to the target; 'down': back. */
  readonly dir: 'up' | 'down';
  readonly t: number;
  /** The chunk's first bytes as latin1 (enough for tags and verbs; never printed whole). */
  readonly head: string;
}

export interface TapRelay {
  readonly port: number;
  /** Accept time per connection id, in order. */
  readonly accepts: Array<{ conn: number; t: number }>;
  readonly events: TapEvent[];
  /** Forgets what was recorded (before the next login). */
  clear(): void;
  stop(): Promise<void>;
}

const HEAD_BYTES = 512;
const MAX_EVENTS = 100_000;

export function startTapRelay(targetPort: number): Promise<TapRelay> {
  const accepts: Array<{ conn: number; t: number }> = [];
  const events: TapEvent[] = [];
  const sockets = new Set<net.Socket>();
  let next = 0;
  const record = (e: TapEvent): void => { if (events.length < MAX_EVENTS) events.push(e); };
  const server = net.createServer({ noDelay: true }, (client) => {
    const conn = next++;
    accepts.push({ conn, t: wallMs() });
    const target = net.connect({ host: '127.0.0.1', port: targetPort, noDelay: true });
    for (const s of [client, target]) sockets.add(s);
    client.on('data', (d: Buffer) => { record({ conn, dir: 'up', t: wallMs(), head: d.toString('latin1', 0, HEAD_BYTES) }); target.write(d); });
    target.on('data', (d: Buffer) => { record({ conn, dir: 'down', t: wallMs(), head: d.toString('latin1', 0, HEAD_BYTES) }); client.write(d); });
    const close = (): void => {
      client.destroy();
      target.destroy();
      sockets.delete(client);
      sockets.delete(target);
    };
    client.on('error', close).on('close', close);
    target.on('error', close).on('close', close);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({
      port: (server.address() as net.AddressInfo).port,
      accepts, events,
      clear: () => { accepts.length = 0; events.length = 0; },
      stop: () => new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
    }));
  });
}
