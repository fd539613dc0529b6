// A stand-in for Dovecot that answers a login at once, for A/B runs of the proxy's own login
// cost without Dovecot's per-login process work on the same two cores: greeting with SASL-IR,
// OK to ID and to AUTHENTICATE PLAIN (any credentials), BYE + OK to LOGOUT. Own process.
// As a child process: node fake-imap-backend.ts PORT_FILE
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import { startBenchChild, type Forwarder } from './forwarder.js';

export function startFakeImapBackend(dir: string): Promise<Forwarder> {
  return startBenchChild('fake-imap', dir, import.meta.filename, []);
}

function serve(portFile: string): void {
  const server = net.createServer({ noDelay: true }, (s) => {
    let buf = '';
    s.on('error', () => s.destroy());
    s.write('* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n');
    s.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      let out = '';
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const [tag, cmd] = buf.slice(0, i).split(' ');
        buf = buf.slice(i + 2);
        const c = cmd?.toUpperCase();
        if (c === 'ID') out += `* ID NIL\r\n${tag} OK ID completed.\r\n`;
        else if (c === 'AUTHENTICATE') out += `${tag} OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT LITERAL+] Logged in\r\n`;
        else if (c === 'LOGOUT') { s.end(`${out}* BYE Logging out\r\n${tag} OK Logout completed.\r\n`); return; }
        else out += `${tag} BAD Error in IMAP command\r\n`;
      }
      if (out) s.write(out);
    });
  });
  server.listen(0, '127.0.0.1', () => { void writeFile(portFile, String((server.address() as net.AddressInfo).port)); });
}

if (process.argv[1] === import.meta.filename) serve(process.argv[2]!);
