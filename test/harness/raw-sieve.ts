// A deliberately dumb ManageSieve client (RFC 5804) over a raw socket, doing on the wire what
// Roundcube's managesieve plugin (Net_Sieve) does: capabilities, STARTTLS, AUTHENTICATE with
// the initial response as a string or literal, continuation rounds, then script commands.
import { LineSocket, b64, connectSocket, type LineSocketOptions } from './line-socket.js';

export interface SieveReply {
  /** Lines before the response (capabilities, a challenge string, a GETSCRIPT literal). */
  readonly lines: string[];
  /** The OK / NO / BYE line. */
  readonly response: string;
}

export class RawSieve extends LineSocket {
  static async connect(port: number, opts: LineSocketOptions = {}): Promise<RawSieve> {
    return new RawSieve(await connectSocket(port, opts));
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Lines up to the next OK / NO / BYE. */
  async response(timeoutMs = 5000): Promise<SieveReply> {
    const lines: string[] = [];
    for (;;) {
      const l = await this.line(timeoutMs);
      if (/^(OK|NO|BYE)\b/i.test(l)) return { lines, response: l };
      lines.push(l);
    }
  }

  async command(line: string, timeoutMs = 5000): Promise<SieveReply> {
    this.write(`${line}\r\n`);
    return this.response(timeoutMs);
  }

  /** STARTTLS, the handshake, and the capabilities the server sends again (RFC 5804 §2.2). */
  async startTls(ca: string): Promise<SieveReply> {
    const r = await this.command('STARTTLS');
    if (!r.response.startsWith('OK')) return r;
    await this.upgradeTls(ca);
    return this.response();
  }

  /** The next line, when it is a server challenge string: its text. */
  async challenge(timeoutMs = 5000): Promise<string | { response: string }> {
    const l = await this.line(timeoutMs);
    const m = /^"([^"]*)"$/.exec(l);
    return m ? m[1]! : { response: l };
  }
}

export { b64 };
export const oauthbearer = (user: string, token: string): string => b64(`n,a=${user},\x01auth=Bearer ${token}\x01\x01`);
export const xoauth2 = (user: string, token: string): string => b64(`user=${user}\x01auth=Bearer ${token}\x01\x01`);
/** A non-synchronizing literal (`{n+}`), as Net_Sieve sends long strings. */
export const literal = (s: string): string => `{${Buffer.byteLength(s)}+}\r\n${s}`;
