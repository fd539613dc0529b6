// The ManageSieve service asks Dovecot for its Sieve capabilities at start-up (a probe, no
// login). Every login's opening runs under DMS_TIMEOUT_MS, and so does the SMTP feature probe;
// the ManageSieve probe had no deadline: a backend that accepts and never greets (a wedged
// Dovecot, a firewall that accepts and drops) held its socket for ever, with nothing logged,
// and the greetings kept the default capability list. It now gives up within the timeout.
import t from 'tap';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { probeManageSieve } from '../../src/backend/managesieve-login.js';

t.test('a backend that accepts and never greets: the probe gives up within DMS_TIMEOUT_MS and closes its socket', async (t) => {
  const held: net.Socket[] = [];
  let closed = 0;
  const silent = net.createServer((s) => { held.push(s); s.on('close', () => { closed += 1; }); s.on('error', () => undefined); });
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.teardown(() => { for (const s of held) s.destroy(); silent.close(); });
  const port = (silent.address() as net.AddressInfo).port;
  const started = Date.now();
  const outcome = await Promise.race([
    probeManageSieve({ host: '127.0.0.1', port, tls: 'none', tlsOptions: { verify: false, servername: 'localhost', context: tls.createSecureContext() }, timeoutMs: 300 }),
    new Promise((r) => setTimeout(() => r('still waiting'), 3000)),
  ]);
  t.equal(outcome, null, `no capabilities, and an answer (after ${Date.now() - started} ms)`);
  t.ok(Date.now() - started < 2000, 'within the timeout, not much after');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(closed, 1, 'the probe\'s connection is closed');
});
