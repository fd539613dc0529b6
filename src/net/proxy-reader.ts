// Reads the PROXY protocol header a trusted load balancer sends before anything else, then
// puts back whatever followed it (a TLS ClientHello, an early command) for the next stage.
// Takes the socket paused (as the listener accepts it) and leaves it paused, with those
// bytes at the front of its buffer: the next stage starts reading when it is ready.
import type net from 'node:net';
import { parseProxyHeader, type ProxyHeader } from './proxy-protocol.js';
import { MAX_PROXY_HEADER_BYTES } from '../limits.js';

export class ProxyHeaderError extends Error {
  readonly code = 'ERR_PROXY_HEADER';
  /**
   * The connection ended (FIN or reset) before a single byte: no header, bad or good. That is
   * what a balancer's TCP health check does (AWS NLB, HAProxy `check` without
   * check-send-proxy): not worth a warn line per check.
   */
  constructor(message: string, readonly silentClose = false) {
    super(message);
  }
}

export function readProxyHeader(socket: net.Socket, timeoutMs: number): Promise<ProxyHeader> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const finish = (err: Error | null, header?: ProxyHeader, rest?: Buffer): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      socket.off('close', onEnd);
      if (err) return reject(err);
      socket.pause(); // before returning from 'data': no later chunk is emitted to nobody
      if (rest && rest.length) socket.unshift(rest);
      resolve(header!);
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const r = parseProxyHeader(buf, MAX_PROXY_HEADER_BYTES);
      if (r.status === 'incomplete') return;
      if (r.status === 'error') return finish(new ProxyHeaderError(r.reason));
      finish(null, r.header, buf.subarray(r.length));
    };
    const onEnd = (): void => finish(new ProxyHeaderError('connection closed before the PROXY header', buf.length === 0));
    // HAProxy and Postfix give the header 5 s too (smtpd_upstream_proxy_timeout).
    const timer = setTimeout(() => finish(new ProxyHeaderError(`no PROXY header within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
    socket.on('close', onEnd); // destroyed by us (a listener closing): no timer left behind
    socket.resume(); // a paused socket stays paused when a 'data' listener is added
  });
}
