// One login line on a fresh connection to the proxy's IMAPS, POP3S or ManageSieve (STARTTLS)
// port, answered: the reply to it, after an empty answer to a SASL error challenge (a token's
// RFC 7628 §3.2.2 error, a `+` in IMAP, `+ ` in POP3, a string in ManageSieve). For tests
// that only care how a login ends.
import { readFileSync } from 'node:fs';
import { RawClient } from './raw-imap.js';
import { RawPop3 } from './raw-pop3.js';
import { RawSieve } from './raw-sieve.js';
import type { TestProxy } from './proxy.js';

export interface LoginReplies {
  imap(line: string): Promise<string>;
  pop3(line: string): Promise<string>;
  sieve(line: string): Promise<string>;
}

/**
 * `proxy` must listen for POP3S and ManageSieve (LISTEN_POP3S, LISTEN_MANAGESIEVE). `from`
 * gives each connection's local address (default: the system's choice).
 */
export function loginReplies(
  t: { teardown(fn: () => unknown): void },
  proxy: TestProxy,
  opts: { timeoutMs: number; from?: () => string },
): LoginReplies {
  const ca = readFileSync(proxy.certs.caFile, 'utf8');
  const ms = opts.timeoutMs;
  const local = () => (opts.from ? { localAddress: opts.from() } : {});
  return {
    imap: async (line) => {
      const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca, ...local() });
      t.teardown(() => c.close());
      await c.line();
      c.write(`${line}\r\n`);
      let reply = await c.line(ms);
      if (reply.startsWith('+')) { c.write('\r\n'); reply = await c.line(ms); }
      return reply;
    },
    pop3: async (line) => {
      const c = await RawPop3.connect(proxy.server.port('pop3s'), { implicitTls: true, ca, ...local() });
      t.teardown(() => c.close());
      await c.line();
      let reply = await c.command(line, ms);
      if (reply.startsWith('+ ')) reply = await c.command('', ms);
      return reply;
    },
    sieve: async (line) => {
      const c = await RawSieve.connect(proxy.managesievePort, local());
      t.teardown(() => c.close());
      await c.response();
      await c.startTls(ca);
      c.socket.write(`${line}\r\n`);
      let reply = await c.line(ms);
      if (reply.startsWith('"')) { c.socket.write('""\r\n'); reply = await c.line(ms); }
      return reply;
    },
  };
}
