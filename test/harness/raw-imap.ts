// A deliberately dumb IMAP client over a raw socket: tests use it where a real client
// library would hide what is on the wire (XOAUTH2, continuation forms, hostile input).
import net from 'node:net';
import tls from 'node:tls';

export class RawClient {
  private buffer = '';
  private waiters: Array<() => void> = [];
  closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(public socket: net.Socket) {
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

  /** `preamble` is written right after TCP connect, before TLS (a PROXY protocol header). */
  static async connect(port: number, opts: { implicitTls?: boolean; ca?: string; host?: string; localAddress?: string; preamble?: Buffer } = {}): Promise<RawClient> {
    const host = opts.host ?? '127.0.0.1';
    let socket: net.Socket = net.connect({ host, port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    if (opts.preamble) socket.write(opts.preamble);
    if (opts.implicitTls) {
      const secure = tls.connect({ socket, ca: opts.ca, servername: 'localhost' });
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', () => resolve());
        secure.once('error', reject);
      });
      socket = secure;
    }
    return new RawClient(socket);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next CRLF line (without CRLF); rejects on close or time-out. */
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

  /** Sends a tagged command and collects lines up to its tagged reply. */
  async command(line: string, timeoutMs = 5000): Promise<{ untagged: string[]; tagged: string }> {
    const tag = line.split(' ')[0]!;
    this.write(`${line}\r\n`);
    return this.until(tag, timeoutMs);
  }

  async until(tag: string, timeoutMs = 5000): Promise<{ untagged: string[]; tagged: string }> {
    const untagged: string[] = [];
    for (;;) {
      const l = await this.line(timeoutMs);
      if (l.startsWith(`${tag} `)) return { untagged, tagged: l };
      untagged.push(l);
    }
  }

  /** STARTTLS then the TLS handshake on the same socket. */
  async startTls(ca: string, tag = 'S1'): Promise<string> {
    const r = await this.command(`${tag} STARTTLS`);
    if (!/ OK /.test(r.tagged)) return r.tagged;
    const secure = tls.connect({ socket: this.socket, ca, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket.removeAllListeners('data');
    this.socket = secure;
    this.buffer = '';
    this.attach(secure);
    return r.tagged;
  }

  pending(): string {
    return this.buffer;
  }

  close(): void {
    this.socket.destroy();
  }
}

export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
export const oauthbearer = (user: string, token: string): string => b64(`n,a=${user},\x01auth=Bearer ${token}\x01\x01`);
export const xoauth2 = (user: string, token: string): string => b64(`user=${user}\x01auth=Bearer ${token}\x01\x01`);
