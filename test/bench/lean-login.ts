// The login floor for a proxy written in Node: the least code that does the proxy's login job
// with net.Socket, to read the proxy's CPU per login against what Node itself needs for it.
// Accept, write a greeting, read one AUTHENTICATE OAUTHBEARER line, decode it, look the token up
// in a Map (as a cached token), dial Dovecot, write ID (client address) and AUTHENTICATE PLAIN
// as master in one write, wait for the tagged OK, answer the client, then stream.pipe() both
// ways. No TLS, limits, timers, logs, metrics or error answers: a bad line closes the
// connection. Not a proxy anyone should run; a measuring stick (docs/performance.md).
//
// As a child process: node lean-login.ts PORT_FILE BACKEND_PORT MASTER_USER MASTER_PASSWORD TOKEN USER [TOKEN USER ...]
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import { startBenchChild, type Forwarder } from './forwarder.js';

/** `tokens`: token → the user it logs in. */
export function startLeanLogin(backendPort: number, dir: string, master: { user: string; password: string }, tokens: Record<string, string>, nodeArgs: readonly string[] = []): Promise<Forwarder> {
  return startBenchChild('lean-login', dir, import.meta.filename, [String(backendPort), master.user, master.password, ...Object.entries(tokens).flat()], nodeArgs);
}

function serve(portFile: string, backendPort: number, masterUser: string, masterPassword: string, tokens: Map<string, string>): void {
  const server = net.createServer({ noDelay: true }, (client) => {
    const close = (): void => { client.destroy(); backend?.destroy(); };
    let backend: net.Socket | null = null;
    let buf = '';
    client.on('error', close).on('close', close);
    client.write('* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=OAUTHBEARER] ready\r\n');
    const onClient = (chunk: Buffer): void => {
      buf += chunk.toString('latin1');
      const eol = buf.indexOf('\r\n');
      if (eol < 0) return;
      client.off('data', onClient);
      client.pause();
      const [tag, cmd, mech, ir] = buf.slice(0, eol).split(' ');
      const rest = buf.slice(eol + 2);
      if (!tag || cmd?.toUpperCase() !== 'AUTHENTICATE' || mech?.toUpperCase() !== 'OAUTHBEARER' || !ir) return close();
      const m = /^n,a=([^,]*),\x01auth=Bearer ([^\x01]+)\x01\x01$/.exec(Buffer.from(ir, 'base64').toString('utf8'));
      const user = m && tokens.get(m[2]!);
      if (!m || user !== m[1]) return close();
      const b = net.connect({ host: '127.0.0.1', port: backendPort, noDelay: true });
      backend = b;
      b.on('error', close).on('close', close);
      let got = '';
      let greeted = false;
      const onBackend = (c: Buffer): void => {
        got += c.toString('latin1');
        for (let i = got.indexOf('\r\n'); i >= 0; i = got.indexOf('\r\n')) {
          const line = got.slice(0, i);
          got = got.slice(i + 2);
          if (!greeted) {
            greeted = true;
            const plain = Buffer.from(`${user}\x00${masterUser}\x00${masterPassword}`).toString('base64');
            b.write(`P2 ID ("x-originating-ip" "${client.remoteAddress}" "x-originating-port" "${client.remotePort}")\r\nP3 AUTHENTICATE PLAIN ${plain}\r\n`);
          } else if (line.startsWith('P3 ')) {
            b.off('data', onBackend);
            if (!line.startsWith('P3 OK')) return close();
            client.write(`${tag} OK Logged in\r\n`);
            if (got) client.write(got, 'latin1');
            if (rest) b.write(rest, 'latin1');
            client.pipe(b).pipe(client);
            client.resume();
            return;
          }
        }
      };
      b.on('data', onBackend);
    };
    client.on('data', onClient);
  });
  server.listen(0, '127.0.0.1', () => { void writeFile(portFile, String((server.address() as net.AddressInfo).port)); });
}

if (process.argv[1] === import.meta.filename) {
  const [portFile, backendPort, masterUser, masterPassword, ...pairs] = process.argv.slice(2) as [string, string, string, string, ...string[]];
  const tokens = new Map<string, string>();
  for (let i = 0; i + 1 < pairs.length; i += 2) tokens.set(pairs[i]!, pairs[i + 1]!);
  serve(portFile, Number(backendPort), masterUser, masterPassword, tokens);
}
