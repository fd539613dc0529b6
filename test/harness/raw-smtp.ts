// A deliberately dumb SMTP client over a raw socket: tests use it where a real client
// library would hide what is on the wire (reply codes per command, pipelining, SASL
// challenges, hostile input). Every read is bounded by a time-out.
import { LineSocket, b64, connectSocket, type LineSocketOptions } from './line-socket.js';

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

export type RawSmtpConnectOptions = LineSocketOptions;

const REPLY_LINE = /^(\d{3})([ -])(.*)$/s;

export class RawSmtp extends LineSocket {
  static async connect(port: number, opts: RawSmtpConnectOptions = {}): Promise<RawSmtp> {
    return new RawSmtp(await connectSocket(port, opts));
  }

  /** Sends raw bytes as they are (no CRLF added); resolves once handed to the kernel or failed. */
  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed || this.socket.destroyed) return resolve();
      this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, () => resolve());
    });
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

  /** Ends politely: QUIT, a bounded wait for the server to close, then the socket is destroyed. */
  async quit(timeoutMs = 1000): Promise<void> {
    if (!this.closed && !this.socket.destroyed) {
      await this.write('QUIT\r\n');
      await this.waitClosed(timeoutMs);
    }
    this.close();
  }
}

export { b64 };
/** RFC 7628 OAUTHBEARER initial response (GS2 header with authzid), base64. */
export const oauthbearerIr = (user: string, token: string): string => b64(`n,a=${user},\x01auth=Bearer ${token}\x01\x01`);
/** Google XOAUTH2 initial response, base64. */
export const xoauth2Ir = (user: string, token: string): string => b64(`user=${user}\x01auth=Bearer ${token}\x01\x01`);
/** RFC 4616 PLAIN initial response (no authzid), base64. */
export const plainIr = (user: string, password: string): string => b64(`\0${user}\0${password}`);
/** Decodes a 334 challenge's base64 text (e.g. the JSON error of OAUTHBEARER/XOAUTH2). */
export const decode334 = (r: SmtpReply): string => Buffer.from(r.text.trim(), 'base64').toString('utf8');
