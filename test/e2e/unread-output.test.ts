// A client that pipelines commands before login and never reads the replies must not make
// the proxy buffer them: past the socket's high-water mark (16 KiB) the proxy stops reading
// it, and goes on once the client has read. Every pre-login writer: IMAP 143 (plain and
// after STARTTLS) and 993, SMTP 587 (plain and after STARTTLS) and 465; and the SMTP
// command guard after login, which answers some commands itself.
//
// Measured in-process: every socket the proxy writes to a client is collected (accepted
// TCP sockets, and the TLS sockets made on them) and its writableLength sampled while the
// client floods.
import t, { type Test } from 'tap';
import net from 'node:net';
import tls from 'node:tls';
import { startStack } from '../harness/stack.js';
import { RawClient } from '../harness/raw-imap.js';
import { RawSmtp, xoauth2Ir } from '../harness/raw-smtp.js';
import type { LineSocket } from '../harness/line-socket.js';

const s = await startStack(t);

// Every server-side socket from here on. The proxy makes its TLS sockets with
// `new tls.TLSSocket(socket, { isServer: true })` (ours and smtp-server's STARTTLS alike).
const serverSockets = new Set<net.Socket>();
for (const l of s.proxy.server.listeners) l.server.on('connection', (c: net.Socket) => serverSockets.add(c));
const OriginalTLSSocket = tls.TLSSocket;
class WatchedTLSSocket extends OriginalTLSSocket {
  constructor(socket: net.Socket, opts?: tls.TLSSocketOptions) {
    super(socket, opts);
    if (opts?.isServer) serverSockets.add(this);
  }
}
(tls as { TLSSocket: typeof tls.TLSSocket }).TLSSocket = WatchedTLSSocket;
t.teardown(() => { (tls as { TLSSocket: typeof tls.TLSSocket }).TLSSocket = OriginalTLSSocket; });

/** What the proxy may hold for a client that does not read: the high-water mark plus one reply. */
const LIMIT_BYTES = 16 * 1024 + 4096;
const FLOOD_BYTES = 2 * 1024 * 1024;
const FLOOD_MS = 2500;

/**
 * Writes `line` `want` times without reading anything, samples the largest writableLength
 * of the proxy's client sockets for FLOOD_MS, then reads again and returns how many reply
 * lines starting with `reply` arrived in the end (bounded wait).
 */
async function flood(c: LineSocket, line: string, reply: string, want: number): Promise<{ maxUnread: number; replies: number }> {
  let replies = 0;
  let carry = '';
  let done: () => void = () => undefined;
  // Counted straight off the socket (the line reader is too slow for 100,000 lines).
  const onData = (d: string): void => {
    const text = carry + d;
    const parts = text.split('\r\n');
    carry = parts.pop()!;
    for (const p of parts) if (p.startsWith(reply)) replies += 1;
    if (replies >= want) done();
  };
  c.socket.on('data', onData);
  c.socket.pause();
  c.socket.write(line.repeat(want));
  let maxUnread = 0;
  const sample = (): void => {
    for (const sock of serverSockets) maxUnread = Math.max(maxUnread, sock.writableLength);
  };
  const timer = setInterval(sample, 5);
  await new Promise((r) => setTimeout(r, FLOOD_MS));
  clearInterval(timer);
  sample();
  // Reading again: everything the client asked for is answered (reading resumed on drain).
  const all = new Promise<void>((r) => { done = r; });
  c.socket.resume();
  await Promise.race([all, new Promise((r) => setTimeout(r, 30_000))]);
  c.socket.off('data', onData);
  return { maxUnread, replies };
}

const imapFlood = 'a CAPABILITY\r\n';
const IMAP_OK = 'a OK ';
// AUTH with an unknown mechanism is not counted by smtp-server's budget of unauthenticated
// commands (AUTH is exempt), and not as a failed login: an unbounded stream of replies.
const smtpFlood = 'AUTH NOSUCHMECH\r\n';
const SMTP_REFUSED = '5'; // 504 unknown mechanism; 530 before TLS

interface Case {
  readonly name: string;
  /** Connects and gets the session to where the flood starts. */
  open(t: Test): Promise<LineSocket>;
  readonly line: string;
  readonly reply: string;
}

const imap = async (t: Test, port: number, opts: { implicitTls?: boolean; startTls?: boolean } = {}): Promise<RawClient> => {
  const c = await RawClient.connect(port, opts.implicitTls ? { implicitTls: true, ca: s.ca } : {});
  t.teardown(() => c.close());
  t.match(await c.line(), /^\* OK /);
  if (opts.startTls) {
    t.match((await c.command('s STARTTLS')).tagged, /^s OK/);
    await c.upgradeTls(s.ca);
  }
  return c;
};
const smtp = async (t: Test, port: number, opts: { implicitTls?: boolean; startTls?: boolean; login?: boolean } = {}): Promise<RawSmtp> => {
  const c = await RawSmtp.connect(port, opts.implicitTls ? { implicitTls: true, ca: s.ca } : {});
  t.teardown(() => c.close());
  t.equal((await c.reply()).code, 220);
  t.equal((await c.ehlo()).code, 250);
  if (opts.startTls) {
    t.equal((await c.startTls(s.ca)).code, 220);
    t.equal((await c.ehlo()).code, 250);
  }
  if (opts.login) t.equal((await c.command(`AUTH XOAUTH2 ${xoauth2Ir(s.alice.email, await s.idp.mintToken(s.alice.email))}`, 10_000)).code, 235);
  return c;
};

const cases: Case[] = [
  { name: 'IMAP 143 before STARTTLS', open: (t) => imap(t, s.proxy.imapPort), line: imapFlood, reply: IMAP_OK },
  { name: 'IMAP 143 after STARTTLS', open: (t) => imap(t, s.proxy.imapPort, { startTls: true }), line: imapFlood, reply: IMAP_OK },
  { name: 'IMAP 993 (implicit TLS)', open: (t) => imap(t, s.proxy.imapsPort, { implicitTls: true }), line: imapFlood, reply: IMAP_OK },
  { name: 'SMTP 587 before STARTTLS', open: (t) => smtp(t, s.proxy.submissionPort), line: smtpFlood, reply: SMTP_REFUSED },
  { name: 'SMTP 587 after STARTTLS', open: (t) => smtp(t, s.proxy.submissionPort, { startTls: true }), line: smtpFlood, reply: SMTP_REFUSED },
  { name: 'SMTP 465 (implicit TLS)', open: (t) => smtp(t, s.proxy.submissionsPort, { implicitTls: true }), line: smtpFlood, reply: SMTP_REFUSED },
  // After login the command guard answers XCLIENT itself (550): its replies are bounded too.
  { name: 'SMTP 465 after login', open: (t) => smtp(t, s.proxy.submissionsPort, { implicitTls: true, login: true }), line: 'XCLIENT LOGIN=x\r\n', reply: '550 ' },
];

for (const c of cases) {
  t.test(`${c.name}: a client that pipelines and never reads holds at most ~16 KiB in the proxy`, async (t) => {
    const client = await c.open(t);
    const want = Math.ceil(FLOOD_BYTES / c.line.length);
    const r = await flood(client, c.line, c.reply, want);
    t.ok(r.maxUnread <= LIMIT_BYTES, `proxy buffered at most ${r.maxUnread} bytes for the client (limit ${LIMIT_BYTES})`);
    t.equal(r.replies, want, 'every command answered once the client reads again');
  });
}
