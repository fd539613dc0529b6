// Adversary finding (fixed): the portal listener (LISTEN_PORTAL, user-facing HTTPS) caps its open
// connections at PORTAL_MAX_CONNECTIONS (1000) in total and has no per-client limit: the
// mail ports refuse a client past MAX_CONNECTIONS_PER_IP (100 by default,
// docs/configuration.md) and keep serving everybody else, but on the portal one client
// holding 1000 idle TCP connections (no TLS handshake, no request; each renewed after the
// headers timeout) makes every other user's connection be destroyed at accept. Nobody can
// sign in or revoke an app password while it lasts. Now the portal holds one client to
// MAX_CONNECTIONS_PER_IP as the mail ports do (100 by default, the stack's setting).
import t from 'tap';
import net from 'node:net';
import tls from 'node:tls';
import { startPortalStack } from '../harness/portal.js';
import { PORTAL_MAX_CONNECTIONS } from '../../src/limits.js';

const { url } = await startPortalStack(t);
/** MAX_CONNECTIONS_PER_IP's default, which the portal stack keeps. */
const PER_CLIENT = 100;
const port = Number(new URL(url).port);

/** GET / from `localAddress` (another client IP in 127/8): the status, or the error. */
function getFrom(localAddress: string): Promise<number | string> {
  return new Promise((resolve) => {
    // localAddress is passed on to net.connect() (not in tls.ConnectionOptions' type).
    const s = tls.connect({ host: '127.0.0.1', port, localAddress, rejectUnauthorized: false, servername: 'localhost' } as tls.ConnectionOptions);
    let data = '';
    const timer = setTimeout(() => { s.destroy(); resolve('timeout'); }, 5000);
    s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
    s.on('data', (d: Buffer) => { data += d.toString('latin1'); });
    s.on('error', (e: NodeJS.ErrnoException) => { clearTimeout(timer); resolve(e.code ?? e.message); });
    s.on('close', () => { clearTimeout(timer); const m = /^HTTP\/1\.1 (\d{3})/.exec(data); resolve(m ? Number(m[1]) : `closed: ${data.slice(0, 40)}`); });
  });
}

t.test('one client holding idle connections does not shut every other user out of the portal', async (t) => {
  t.equal(await getFrom('127.0.0.2'), 200, 'the portal serves before the flood');
  const hog: net.Socket[] = [];
  t.teardown(() => { for (const s of hog) s.destroy(); });
  for (let i = 0; i < PORTAL_MAX_CONNECTIONS + 50; i++) {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1' });
    s.on('error', () => undefined);
    hog.push(s);
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
  }
  // Until the listener has taken the whole flood in (it destroys what is over the client's
  // share at accept), well inside the headers timeout (10 s) that would end the idle ones.
  const excess = hog.length - PER_CLIENT;
  for (let waited = 0; waited < 5000 && hog.filter((s) => s.destroyed || s.readableEnded).length < excess; waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const closed = hog.filter((s) => s.destroyed || s.readableEnded).length;
  t.comment(`flood: ${hog.length} opened, ${closed} closed by the server`);
  t.ok(hog.length - closed <= PER_CLIENT, 'the flood holds no more than one client\'s share');
  t.equal(await getFrom('127.0.0.2'), 200, 'another client (127.0.0.2) still gets the portal');
});
