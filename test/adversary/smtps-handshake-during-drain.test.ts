// Adversary finding: on 465 (implicit TLS) a connection reaches smtp-server only once its TLS
// handshake is done. A client that connected just before a graceful shutdown (SIGTERM in a
// rolling update) and finished its handshake after the drain had begun was greeted with 220
// by the replica going away: the drain had already sent 421 to every session before login,
// and this one was not among them. It could log in and start a message there, and, since the
// drain waits for every smtp-server connection to be gone, it held the whole shutdown to the
// end of the grace, however quiet the replica was. (IMAP 993 and POP3 995 keep
// the session from the accept on, so their drain reaches a connection mid-handshake.) A
// handshake that completes during the drain is now closed with 421 at once.
import t from 'tap';
import net from 'node:net';
import tls from 'node:tls';
import { startStack } from '../harness/stack.js';
import { eventually } from '../harness/proxy.js';

const GRACE_MS = 6000;
const { proxy, ca, alice } = await startStack(t, { proxyEnv: { ALLOW_PLAINTEXT_AUTH: '1' } });

interface Conn { readonly socket: net.Socket; got: string }

const waitFor = (c: Conn, re: RegExp, ms = 5000): Promise<unknown> => eventually(() => re.test(c.got), ms, `${re} in what the connection got`);

t.test('a 465 handshake that completes after the drain began: 421, and the shutdown does not wait for it', async (t) => {
  // A logged-in session in the middle of a message keeps the drain going (421 only between transactions).
  const busy: Conn = { socket: net.connect(proxy.submissionPort, '127.0.0.1'), got: '' };
  t.teardown(() => busy.socket.destroy());
  busy.socket.on('data', (d: Buffer) => { busy.got += d.toString('latin1'); });
  await waitFor(busy, /^220 /);
  busy.socket.write('EHLO client.example\r\n');
  await waitFor(busy, /250 [^\r]*\r\n$/);
  busy.socket.write(`AUTH PLAIN ${Buffer.from(`\0${alice.email}\0${alice.password}`).toString('base64')}\r\n`);
  await waitFor(busy, /235 /);
  busy.socket.write(`MAIL FROM:<${alice.email}>\r\nRCPT TO:<${alice.email}>\r\nDATA\r\n`);
  await waitFor(busy, /354 /);
  busy.socket.write('Subject: drain\r\n\r\nhello\r\n');

  const raw = net.connect(proxy.submissionsPort, '127.0.0.1');
  t.teardown(() => raw.destroy());
  raw.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => { raw.once('connect', resolve); raw.once('error', reject); });
  await new Promise((r) => setTimeout(r, 200)); // accepted; no ClientHello yet
  const started = Date.now();
  const done = proxy.server.shutdown(GRACE_MS);
  await new Promise((r) => setTimeout(r, 100));
  const secure = tls.connect({ socket: raw, ca, servername: 'localhost' });
  secure.on('error', () => undefined);
  let got = '';
  secure.on('data', (d: Buffer) => { got += d.toString('latin1'); });
  await Promise.race([new Promise((r) => secure.once('close', r)), new Promise((r) => setTimeout(r, 1000))]);
  t.notMatch(got, /^220 /, 'no greeting from a replica that is shutting down');
  // The message ends: the busy session gets its 250, then 421, and nothing else holds the shutdown.
  busy.socket.write('.\r\n');
  await waitFor(busy, /250 [^\r]*\r\n/);
  const finished = Date.now();
  await done;
  t.ok(Date.now() - finished < GRACE_MS / 3, `the shutdown did not wait for it (${Date.now() - finished} ms after the message, ${Date.now() - started} ms in all)`);
});
