// HTTP over a raw socket, for requests fetch() and curl would refuse or normalise
// (`//a:99999`, a bad `%` escape, broken headers): the bytes go out as given, then a FIN;
// what comes back is read until the server closes or `timeoutMs` passes.
import net from 'node:net';
import tls from 'node:tls';

export interface RawHttpAnswer {
  /** The status code of every response in the reply stream (pipelined requests get several). */
  readonly statuses: number[];
  /** The server closed the connection (false: still open at the timeout). */
  readonly closed: boolean;
  readonly text: string;
}

export function rawHttp(port: number, request: string | Buffer, timeoutMs = 5000): Promise<RawHttpAnswer> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.end(request);
  return answer(socket, timeoutMs);
}

/** What comes back on `socket` until the server closes it or `timeoutMs` passes. */
function answer(socket: net.Socket, timeoutMs: number): Promise<RawHttpAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      // A status line starts the stream or follows the last response's end: its header block's
      // CRLF, or a body's own last line (the portal's pages end in a bare LF).
      const statuses = [...text.matchAll(/(?:^|\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
      resolve({ statuses, closed, text });
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => done(true));
    socket.on('close', () => done(true));
  });
}

/** A GET with the given target, a Host header and `Connection: close`. */
export const rawGet = (target: string, headers: Record<string, string> = {}): string =>
  `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;

/**
 * The same over TLS (any certificate accepted: the bytes inside are the point). The request
 * is written without a FIN, and the answer read until the server closes (send
 * `Connection: close`) or `timeoutMs` passes.
 */
export function rawHttps(port: number, request: string | Buffer, timeoutMs = 5000): Promise<RawHttpAnswer> {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
  socket.on('secureConnect', () => socket.write(request));
  return answer(socket, timeoutMs);
}
