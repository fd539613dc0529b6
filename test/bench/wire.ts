// A minimal, fast line client for the bench (imapflow or the test RawClient would dominate
// what is measured): latin1 string buffer for the small exchanges, byte counting only for
// bulk FETCH. Every wait is bounded.
import net from 'node:net';
import tls from 'node:tls';

export interface Endpoint {
  readonly port: number;
  readonly host?: string;
  /** Implicit TLS with this CA (name checked: localhost). */
  readonly tlsCa?: string;
  readonly localAddress?: string;
}

const DEFAULT_TIMEOUT_MS = 20_000;

export class Wire {
  private buf = '';
  private wake: (() => void) | null = null;
  private closed = false;
  private error: Error | null = null;
  private bulk: { tail: string; marker: string; bytes: number; done: () => void } | null = null;
  /** Reads seen in bulk mode (their average size says how the sender and the kernel batch). */
  bulkReads = 0;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      if (this.bulk) return this.onBulk(d);
      this.buf += d.toString('latin1');
      this.wake?.();
    });
    socket.on('error', (e) => { this.error = e; this.wake?.(); });
    socket.on('close', () => { this.closed = true; this.wake?.(); });
  }

  static connect(ep: Endpoint, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const host = ep.host ?? '127.0.0.1';
      const opts = { host, port: ep.port, noDelay: true, ...(ep.localAddress ? { localAddress: ep.localAddress } : {}) };
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`connect to ${ep.port} timed out`)); }, timeoutMs);
      const socket: net.Socket = ep.tlsCa
        ? tls.connect({ ...opts, ca: ep.tlsCa, servername: 'localhost' }, () => ok())
        : net.connect(opts, () => ok());
      const ok = (): void => { clearTimeout(timer); socket.off('error', fail); resolve(new Wire(socket)); };
      const fail = (e: Error): void => { clearTimeout(timer); reject(e); };
      socket.once('error', fail);
    });
  }

  /** Takes over an already connected socket (after STARTTLS). */
  static wrap(socket: net.Socket): Wire {
    return new Wire(socket);
  }

  write(s: string | Buffer): void {
    this.socket.write(s);
  }

  /** Waits until the buffer holds a complete line for which `match` is true; returns the
   *  buffer up to and including that line and removes it. */
  async until(match: (line: string) => boolean, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let from = 0;
    for (;;) {
      let nl: number;
      while ((nl = this.buf.indexOf('\r\n', from)) >= 0) {
        const line = this.buf.slice(from, nl);
        from = nl + 2;
        if (match(line)) {
          const got = this.buf.slice(0, from);
          this.buf = this.buf.slice(from);
          return got;
        }
      }
      if (this.error) throw this.error;
      if (this.closed) throw new Error(`connection closed; pending ${JSON.stringify(this.buf.slice(-200))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms; pending ${JSON.stringify(this.buf.slice(-200))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => { clearTimeout(t); this.wake = null; r(); };
      });
    }
  }

  /** The next line starting with `prefix`. */
  line(prefix: string, timeoutMs?: number): Promise<string> {
    return this.until((l) => l.startsWith(prefix), timeoutMs);
  }

  /** Sends `tag cmd` and waits for the tagged reply; throws unless it is OK. */
  async command(tag: string, cmd: string, timeoutMs?: number): Promise<string> {
    this.write(`${tag} ${cmd}\r\n`);
    const got = await this.line(`${tag} `, timeoutMs);
    const last = got.slice(got.lastIndexOf(`${tag} `));
    if (!last.startsWith(`${tag} OK`)) throw new Error(`${cmd.split(' ').slice(0, 2).join(' ')}: ${last.slice(0, 200).trim()}`);
    return got;
  }

  /** Sends `tag cmd` and counts the bytes up to the tagged OK without keeping them (bulk
   *  FETCH). Tags never occur inside our generated message bodies (base64 lines). */
  bulkCommand(tag: string, cmd: string, timeoutMs = 300_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const marker = `\r\n${tag} OK`;
      const timer = setTimeout(() => reject(new Error(`${tag}: bulk reply not done within ${timeoutMs} ms`)), timeoutMs);
      this.bulk = {
        tail: '', marker, bytes: 0,
        done: () => { clearTimeout(timer); resolve(this.bulk!.bytes); this.bulk = null; },
      };
      this.socket.once('close', () => { clearTimeout(timer); reject(new Error('closed during bulk reply')); });
      this.write(`${tag} ${cmd}\r\n`);
    });
  }

  private onBulk(d: Buffer): void {
    const b = this.bulk!;
    b.bytes += d.length;
    this.bulkReads += 1;
    const end = b.tail + d.toString('latin1', Math.max(0, d.length - 256));
    const at = end.lastIndexOf(b.marker);
    if (at >= 0 && end.indexOf('\r\n', at + 2) >= 0) return b.done();
    b.tail = end.slice(-256);
  }

  close(): void {
    this.socket.destroy();
  }
}

export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
export const oauthbearerIr = (user: string, token: string): string => b64(`n,a=${user},\x01auth=Bearer ${token}\x01\x01`);
export const plainIr = (authzid: string, authcid: string, password: string): string => b64(`${authzid}\x00${authcid}\x00${password}`);
