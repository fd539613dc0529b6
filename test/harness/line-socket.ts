// The buffered, line-reading socket under the raw test clients (raw-imap.ts, raw-smtp.ts):
// connect (optionally sending a PROXY header first, optionally with implicit TLS), read
// CRLF lines with a bound on every wait, upgrade to TLS in place after STARTTLS.
import net from 'node:net';
import { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';

export interface LineSocketOptions {
  implicitTls?: boolean;
  /** CA (PEM) that signed the server's certificate; the name checked is "localhost". */
  ca?: string;
  host?: string;
  localAddress?: string;
  /** Written right after the TCP connect, before TLS (a PROXY protocol header). */
  preamble?: Buffer;
  /**
   * How the preamble reaches the server with implicitTls. By default it is written and TLS
   * starts at once (the kernel may or may not send them in one segment); 'own-write' waits
   * 30 ms after it, so it arrives in a read of its own; 'with-client-hello' sends it in one
   * write together with the TLS ClientHello, as a balancer that connects once the client
   * has spoken does.
   */
  preambleTiming?: 'own-write' | 'with-client-hello';
  /** Time allowed for the TCP connect and, with implicitTls, the handshake. */
  timeoutMs?: number;
  /** Keep our side open after the server's FIN (a client that never closes: shutdown tests). */
  allowHalfOpen?: boolean;
}

export async function connectSocket(port: number, opts: LineSocketOptions = {}): Promise<net.Socket> {
  const host = opts.host ?? '127.0.0.1';
  const timeoutMs = opts.timeoutMs ?? 5000;
  const halfOpen = opts.allowHalfOpen === true;
  let socket: net.Socket = net.connect({ host, port, allowHalfOpen: halfOpen, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  await settle(socket, 'connect', timeoutMs, `connect to ${host}:${port}`);
  const joined = opts.implicitTls && opts.preamble && opts.preambleTiming === 'with-client-hello';
  if (opts.preamble && !joined) socket.write(opts.preamble);
  if (opts.implicitTls) {
    if (opts.preamble && opts.preambleTiming === 'own-write') await sleep(30);
    const under = joined ? prefixFirstWrite(socket, opts.preamble!) : socket;
    socket = tls.connect({ socket: under as net.Socket, ca: opts.ca, servername: 'localhost' });
    socket.allowHalfOpen = halfOpen; // not in tls.connect's options type; net reads the property at the peer's FIN
    await settle(socket, 'secureConnect', timeoutMs, `TLS handshake with ${host}:${port}`);
  }
  return socket;
}

/** A stream over `socket` whose first write goes out as one write of `prefix` + that chunk. */
function prefixFirstWrite(socket: net.Socket, prefix: Buffer): Duplex {
  let pending: Buffer | null = prefix;
  const d = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      const out = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = null;
      socket.write(out, (err) => cb(err ?? null));
    },
    final(cb) { socket.end(() => cb()); },
    read() { socket.resume(); },
    destroy(err, cb) { socket.destroy(); cb(err); },
  });
  socket.on('data', (b: Buffer) => { if (!d.push(b)) socket.pause(); });
  socket.on('end', () => d.push(null));
  socket.on('error', (e) => d.destroy(e));
  socket.on('close', () => d.destroy());
  return d;
}

function settle(socket: net.Socket, event: string, timeoutMs: number, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${what} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once(event, () => { clearTimeout(timer); resolve(); });
    socket.once('error', (e) => { clearTimeout(timer); socket.destroy(); reject(e); });
  });
}

export class LineSocket {
  protected buffer = '';
  private waiters: Array<() => void> = [];
  closed = false;
  readonly closedPromise: Promise<void>;

  protected constructor(public socket: net.Socket) {
    let onClosed!: () => void;
    this.closedPromise = new Promise((r) => (onClosed = r));
    this.attach(socket, onClosed);
  }

  private attach(socket: net.Socket, onClosed?: () => void): void {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffer += d;
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
      onClosed?.();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** Resolves true once the server has closed the connection, false if it is still open after timeoutMs. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    if (this.closed) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((r) => { timer = setTimeout(() => r(false), timeoutMs); });
    const res = await Promise.race([this.closedPromise.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return res;
  }

  /** The next CRLF-terminated line (without CRLF); rejects on close or time-out. */
  async line(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buffer.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 2);
        return l;
      }
      if (this.closed) throw new Error(`connection closed (pending: ${JSON.stringify(this.buffer.slice(0, 200))})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line within ${timeoutMs} ms (pending: ${JSON.stringify(this.buffer.slice(0, 200))})`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  /**
   * The TLS handshake on the current socket, after a STARTTLS already answered. Bytes
   * received in plaintext and not read yet are dropped: nothing before TLS counts.
   */
  async upgradeTls(ca: string, timeoutMs = 5000): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    const secure = tls.connect({ socket: plain, ca, servername: 'localhost' });
    await settle(secure, 'secureConnect', timeoutMs, 'TLS handshake');
    this.socket = secure;
    this.buffer = '';
    this.attach(secure);
  }

  /** Bytes received but not read yet. */
  pending(): string {
    return this.buffer;
  }

  close(): void {
    this.socket.destroy();
  }
}

export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
