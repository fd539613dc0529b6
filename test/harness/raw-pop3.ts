// A deliberately dumb POP3 client over a raw socket: tests use it where a real client
// (curl, poplib) would hide what is on the wire (XOAUTH2 error challenges, cancels, hostile input).
import { LineSocket, connectSocket, type LineSocketOptions } from './line-socket.js';

export class RawPop3 extends LineSocket {
  static async connect(port: number, opts: LineSocketOptions = {}): Promise<RawPop3> {
    return new RawPop3(await connectSocket(port, opts));
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends one command line and returns the first line of its reply. */
  async command(line: string, timeoutMs = 5000): Promise<string> {
    this.write(`${line}\r\n`);
    return this.line(timeoutMs);
  }

  /** The lines of a multi-line response after its +OK line, up to the lone dot (dot-unstuffed). */
  async body(timeoutMs = 5000): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const l = await this.line(timeoutMs);
      if (l === '.') return out;
      out.push(l.startsWith('..') ? l.slice(1) : l);
    }
  }

  /** STLS then the TLS handshake on the same socket; the STLS reply. */
  async stls(ca: string): Promise<string> {
    const r = await this.command('STLS');
    if (r.startsWith('+OK')) await this.upgradeTls(ca);
    return r;
  }
}
