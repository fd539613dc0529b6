// A deliberately dumb IMAP client over a raw socket: tests use it where a real client
// library would hide what is on the wire (XOAUTH2, continuation forms, hostile input).
import { LineSocket, b64, connectSocket, type LineSocketOptions } from './line-socket.js';

export class RawClient extends LineSocket {
  static async connect(port: number, opts: LineSocketOptions = {}): Promise<RawClient> {
    return new RawClient(await connectSocket(port, opts));
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends a tagged command and collects lines up to its tagged reply. */
  async command(line: string, timeoutMs = 5000): Promise<{ untagged: string[]; tagged: string }> {
    const tag = line.split(' ')[0]!;
    this.write(`${line}\r\n`);
    return this.until(tag, timeoutMs);
  }

  /**
   * The next line that is not an IDLE keepalive. Dovecot sends `* OK Still here` during IDLE at
   * a moment it derives from the client's IP (so one IP's connections wake up together): it can
   * come at any point, also just before the line a test waits for.
   */
  async lineAfterKeepalives(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const l = await this.line(Math.max(1, deadline - Date.now()));
      if (!/^\* OK Still here/i.test(l)) return l;
    }
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
    if (/ OK /.test(r.tagged)) await this.upgradeTls(ca);
    return r.tagged;
  }
}

export { b64 };
export const oauthbearer = (user: string, token: string): string => b64(`n,a=${user},\x01auth=Bearer ${token}\x01\x01`);
export const xoauth2 = (user: string, token: string): string => b64(`user=${user}\x01auth=Bearer ${token}\x01\x01`);

/**
 * One AUTHENTICATE XOAUTH2 on a fresh implicit-TLS connection, closed afterwards: the tagged
 * reply (after a refusal's error challenge is answered with an empty line).
 */
export async function xoauth2Login(port: number, ca: string, email: string, token: string, timeoutMs = 10_000): Promise<string> {
  const c = await RawClient.connect(port, { implicitTls: true, ca });
  try {
    await c.line();
    c.write(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(email, token)}\r\n`);
    let line = await c.line(timeoutMs);
    if (line.startsWith('+ ')) {
      c.write('\r\n');
      line = (await c.until('a1', timeoutMs)).tagged;
    }
    return line;
  } finally {
    c.close();
  }
}
