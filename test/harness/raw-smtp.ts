// A deliberately dumb SMTP client over a raw socket: tests use it where a real client
// library would hide what is on the wire (reply codes per command, pipelining, SASL
// challenges, hostile input). Every read is bounded by a time-out.
import net from 'node:net';
import tls from 'node:tls';

export interface SmtpReply {
  /** The three-digit reply code (of the last line). */
  code: number;
  /** The text of each line, without the code and its separator ("250-PIPELINING" → "PIPELINING"). */
  lines: string[];
  /** The lines' texts joined with "\n". */
  text: string;
  /** The reply as received, lines joined with "\n", codes included. */
  raw: string;
}

export interface RawSmtpConnectOptions {
  implicitTls?: boolean;
  /** CA (PEM) that signed the server's certificate; the name checked is "localhost". */
  ca?: string;
  host?: string;
  localAddress?: string;
  /** Time allowed for the TCP connect and, with implicitTls, the handshake. */
  timeoutMs?: number;
}

const REPLY_LINE = /^(\d{3})([ -])(.*)$/s;

export class RawSmtp {
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

  static async connect(port: number, opts: RawSmtpConnectOptions = {}): Promise<RawSmtp> {
    const host = opts.host ?? '127.0.0.1';
    const local = opts.localAddress ? { localAddress: opts.localAddress } : {};
    const socket = opts.implicitTls
      ? tls.connect({ host, port, ca: opts.ca, servername: 'localhost', ...local })
      : net.connect({ host, port, ...local });
    const timeoutMs = opts.timeoutMs ?? 5000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once(opts.implicitTls ? 'secureConnect' : 'connect', () => { clearTimeout(timer); resolve(); });
      socket.once('error', (e) => { clearTimeout(timer); socket.destroy(); reject(e); });
    });
    return new RawSmtp(socket);
  }

  /** Sends raw bytes as they are (no CRLF added); resolves once handed to the kernel or failed. */
  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed || this.socket.destroyed) return resolve();
      this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, () => resolve());
    });
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

  /** Reads one (possibly multi-line) reply: "250-a", "250-b", "250 c". */
  async reply(timeoutMs = 5000): Promise<SmtpReply> {
    const deadline = Date.now() + timeoutMs;
    const raw: string[] = [];
    const lines: string[] = [];
    for (;;) {
      const l = await this.line(Math.max(1, deadline - Date.now()));
      const m = REPLY_LINE.exec(l);
      if (!m) throw new Error(`not an SMTP reply line: ${JSON.stringify(l.slice(0, 200))}`);
      raw.push(l);
      lines.push(m[3]!);
      if (m[2] === ' ') return { code: Number(m[1]), lines, text: lines.join('\n'), raw: raw.join('\n') };
    }
  }

  /** Sends one command line (CRLF added) and reads its reply. */
  async command(line: string, timeoutMs = 5000): Promise<SmtpReply> {
    await this.write(`${line}\r\n`);
    return this.reply(timeoutMs);
  }

  /** EHLO and its reply; the capability keywords are the reply's lines after the first. */
  async ehlo(name = 'client.example.test', timeoutMs = 5000): Promise<SmtpReply> {
    return this.command(`EHLO ${name}`, timeoutMs);
  }

  /** STARTTLS, then the TLS handshake on the same socket (name checked: localhost). Returns the STARTTLS reply. */
  async startTls(ca: string, timeoutMs = 5000): Promise<SmtpReply> {
    const r = await this.command('STARTTLS', timeoutMs);
    if (r.code !== 220) return r;
    await this.upgradeTls(ca, timeoutMs);
    return r;
  }

  /**
   * The TLS handshake on the current socket, for a STARTTLS the caller sent itself (e.g.
   * pipelined with more commands). Bytes received in plaintext and not read yet are dropped.
   */
  async upgradeTls(ca: string, timeoutMs = 5000): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    const secure = tls.connect({ socket: plain, ca, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { secure.destroy(); reject(new Error(`TLS handshake timed out after ${timeoutMs} ms`)); }, timeoutMs);
      secure.once('secureConnect', () => { clearTimeout(timer); resolve(); });
      secure.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
    this.socket = secure;
    this.buffer = ''; // nothing sent in plaintext after STARTTLS counts
    this.attach(secure);
  }

  /** Bytes received but not read yet. */
  pending(): string {
    return this.buffer;
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

  close(): void {
    this.socket.destroy();
  }

  /** Ends politely: QUIT, a bounded wait for the server to close, then the socket is destroyed. */
  async quit(timeoutMs = 1000): Promise<void> {
    if (!this.closed && !this.socket.destroyed) {
      await this.write('QUIT\r\n');
      await this.waitClosed(timeoutMs);
    }
    this.close();
  }
}

export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
/** RFC 7628 OAUTHBEARER initial response (GS2 header with authzid), base64. */
export const oauthbearerIr = (user: string, token: string): string => b64(`n,a=${user},\x01auth=Bearer ${token}\x01\x01`);
/** Google XOAUTH2 initial response, base64. */
export const xoauth2Ir = (user: string, token: string): string => b64(`user=${user}\x01auth=Bearer ${token}\x01\x01`);
/** RFC 4616 PLAIN initial response (no authzid), base64. */
export const plainIr = (user: string, password: string): string => b64(`\0${user}\0${password}`);
/** Decodes a 334 challenge's base64 text (e.g. the JSON error of OAUTHBEARER/XOAUTH2). */
export const decode334 = (r: SmtpReply): string => Buffer.from(r.text.trim(), 'base64').toString('utf8');
