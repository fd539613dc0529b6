// Adversary finding: behind a balancer (PROXY protocol), a connection is handed to its
// session only once its header has arrived, a moment after the accept. A connection the
// listener accepted just before a graceful shutdown (SIGTERM in a rolling update, the
// balancer still sending) whose header came in after the drain had begun was greeted and
// served as a new session by the replica going away: the drain had already told every
// session before login to leave and stopped listening, so nobody told this one. It could log
// in and start work on a replica that cut it at the end of the grace, and it held the whole
// shutdown until that end (the drain waits for every session to be gone). A connection
// without PROXY protocol is handed on at accept, so it is in the drain; one still waiting for
// its header when the listener stops is closed, never greeted, like one the listener had
// not accepted: the client reconnects and the balancer sends it to a replica that stays.
import t from 'tap';
import net from 'node:net';
import { startStack } from '../harness/stack.js';
import { eventually } from '../harness/proxy.js';

const GRACE_MS = 6000;
const { proxy, alice } = await startStack(t, { proxyEnv: { PROXY_PROTOCOL_TRUSTED_NETWORKS: '127.0.0.1/32', ALLOW_PLAINTEXT_AUTH: '1' } });

interface Conn { readonly socket: net.Socket; got: string; closed: Promise<void> }

async function connect(port: number): Promise<Conn> {
  const socket = net.connect(port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  const c: Conn = { socket, got: '', closed: new Promise((r) => socket.once('close', () => r())) };
  socket.on('data', (d: Buffer) => { c.got += d.toString('latin1'); });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  return c;
}

const waitFor = (c: Conn, re: RegExp, ms = 5000): Promise<unknown> => eventually(() => re.test(c.got), ms, `${re} in what the connection got`);

t.test('a PROXY header that arrives after the drain began: not greeted, and the shutdown does not wait for it', async (t) => {
  // A logged-in SMTP session in the middle of a message keeps the drain going (421 only between transactions).
  const busy = await connect(proxy.submissionPort);
  busy.socket.write('PROXY TCP4 198.51.100.9 192.0.2.1 40002 587\r\n');
  await waitFor(busy, /^220 /);
  busy.socket.write('EHLO client.example\r\n');
  await waitFor(busy, /250 [^\r]*\r\n$/);
  busy.socket.write(`AUTH PLAIN ${Buffer.from(`\0${alice.email}\0${alice.password}`).toString('base64')}\r\n`);
  await waitFor(busy, /235 /);
  busy.socket.write(`MAIL FROM:<${alice.email}>\r\nRCPT TO:<${alice.email}>\r\nDATA\r\n`);
  await waitFor(busy, /354 /);
  busy.socket.write('Subject: drain\r\n\r\nhello\r\n');

  const imap = await connect(proxy.imapPort);
  const smtp = await connect(proxy.submissionPort);
  await new Promise((r) => setTimeout(r, 200)); // accepted, waiting for their headers
  const done = proxy.server.shutdown(GRACE_MS);
  await new Promise((r) => setTimeout(r, 100));
  imap.socket.write('PROXY TCP4 198.51.100.7 192.0.2.1 40000 143\r\n');
  smtp.socket.write('PROXY TCP4 198.51.100.8 192.0.2.1 40001 587\r\n');
  await new Promise((r) => setTimeout(r, 500));
  t.notMatch(imap.got, /^\* OK/, 'IMAP: no greeting from a replica that is shutting down');
  t.notMatch(smtp.got, /^220 /, 'SMTP: no greeting from a replica that is shutting down');
  // The message ends: the busy session gets its 250, then 421, and nothing else holds the shutdown.
  busy.socket.write('.\r\n');
  await waitFor(busy, /250 [^\r]*\r\n/);
  const finished = Date.now();
  await done;
  t.ok(Date.now() - finished < GRACE_MS / 3, `the shutdown did not wait for the late ones (${Date.now() - finished} ms after the message)`);
});
