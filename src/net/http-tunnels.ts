// node:http hands a CONNECT request to the 'connect' event and, with nobody listening,
// closes the socket without a word. Neither of our HTTP listeners is a proxy: CONNECT gets
// the 405 any other method they do not serve gets (RFC 9110 §15.5.6: with Allow).
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { REFUSAL_CLOSE_MS } from '../limits.js';

export function refuseTunnels(server: http.Server, allow: string): void {
  server.on('connect', (_req: http.IncomingMessage, socket: Duplex) => {
    socket.on('error', () => undefined);
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nAllow: ${allow}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    setTimeout(() => socket.destroy(), REFUSAL_CLOSE_MS).unref();
  });
}
