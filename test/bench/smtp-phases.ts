// SMTP submission: messages per second by concurrent clients, each on one connection,
// through the proxy (plaintext to the proxy, the proxy's STARTTLS to Postfix) and directly
// (STARTTLS to Postfix, master login, as the proxy does it). MAIL/RCPT/DATA are pipelined
// (RFC 2920) as real clients do. The bound without TLS to Postfix: a proxy with
// DMS_SUBMISSION_TLS=none to the harness's plaintext submission service, and a direct client
// logging in there without TLS ('direct-plain').
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { b64, plainIr, Wire } from './wire.js';
import { LOGIN_USER, type BenchWorld, type ProxyProcess } from './env.js';
import { pool } from './imap-phases.js';

const isFinal = (l: string): boolean => /^\d{3} /.test(l);

async function reply(w: Wire, expect: number): Promise<void> {
  const got = await w.until(isFinal, 60_000);
  const i = got.lastIndexOf('\r\n', got.length - 3);
  const last = got.slice(i < 0 ? 0 : i + 2);
  if (!last.startsWith(String(expect))) throw new Error(`expected ${expect}, got ${last.trim().slice(0, 200)}`);
}

async function startTls(w: Wire, ca: string): Promise<Wire> {
  w.write('STARTTLS\r\n');
  await reply(w, 220);
  w.socket.removeAllListeners('data');
  const secure = tls.connect({ socket: w.socket, ca, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => { secure.once('secureConnect', resolve); secure.once('error', reject); });
  return Wire.wrap(secure);
}

export type SmtpSide = 'proxy' | 'direct' | 'direct-plain';

export async function smtpSession(world: BenchWorld, proxy: ProxyProcess, side: SmtpSide): Promise<Wire> {
  const port = side === 'proxy' ? proxy.submissionPort : side === 'direct' ? world.backend.submissionPort : world.backend.submissionPlainPort;
  let w = await Wire.connect({ port });
  await reply(w, 220);
  w.write('EHLO bench.example.test\r\n');
  await reply(w, 250);
  if (side !== 'proxy') {
    if (side === 'direct') {
      w = await startTls(w, world.backendCa);
      w.write('EHLO bench.example.test\r\n');
      await reply(w, 250);
    }
    const m = world.backend.master;
    w.write(`AUTH PLAIN ${plainIr(LOGIN_USER, m.user, m.password)}\r\n`);
  } else {
    w.write(`AUTH OAUTHBEARER ${b64(`n,a=${LOGIN_USER},\x01auth=Bearer ${world.token}\x01\x01`)}\r\n`);
  }
  await reply(w, 235);
  return w;
}

export function messageOf(bytes: number): Buffer {
  const head = `From: ${LOGIN_USER}\r\nTo: ${LOGIN_USER}\r\nSubject: bench\r\n\r\n`;
  const lines: string[] = [head];
  let size = head.length;
  while (size < bytes) {
    const l = `${randomBytes(57).toString('base64')}\r\n`;
    lines.push(l);
    size += l.length;
  }
  return Buffer.from(`${lines.join('')}.\r\n`, 'latin1');
}

async function sendOne(w: Wire, message: Buffer): Promise<void> {
  w.write(`MAIL FROM:<${LOGIN_USER}>\r\nRCPT TO:<${LOGIN_USER}>\r\nDATA\r\n`);
  await reply(w, 250);
  await reply(w, 250);
  await reply(w, 354);
  w.write(message);
  await reply(w, 250);
}

/** `perClient` messages on each of `sessions` (already logged in); messages per second. */
export async function submitRate(sessions: readonly Wire[], message: Buffer, perClient: number): Promise<number> {
  const start = performance.now();
  await pool(sessions.length, sessions.length, async (c) => {
    for (let i = 0; i < perClient; i++) await sendOne(sessions[c]!, message);
  });
  return (sessions.length * perClient) / ((performance.now() - start) / 1000);
}
