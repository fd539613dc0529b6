// Socket-level fuzzer: random and mutated pre-login traffic (IMAP, SMTP, and where the proxy
// listens for them POP3 and ManageSieve; plaintext, after STARTTLS / STLS, implicit TLS) sent
// in random chunks at a running proxy. After every case the proxy must still greet and answer
// NOOP / EHLO / CAPA on a fresh connection of that protocol; every so often a
// valid token must still log in. At the end: no connection left open on the proxy's ports,
// no error-level log line, no unhandled rejection or uncaught exception.
//
// The campaign (FUZZ_CASES, FUZZ_SECONDS, FUZZ_SEED), against a real backend and IdP:
//   node --import tsx test/reliability/socket-fuzz.ts
// test/reliability/socket-fuzz.test.ts runs a bounded number of cases in CI.
import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import type { TestProxy } from '../harness/proxy.js';
import { RawClient } from '../harness/raw-imap.js';
import { RawSmtp } from '../harness/raw-smtp.js';
import { RawPop3 } from '../harness/raw-pop3.js';
import { RawSieve } from '../harness/raw-sieve.js';
import { imaps, imapTokenLogin, smtps, smtpTokenLogin } from './fakes/clients.js';
import { settleConnections } from './fakes/leaks.js';

export interface FuzzOptions {
  proxy: TestProxy;
  /** Stop after this many cases... */
  cases: number;
  /** ...or after this many seconds, whichever comes first. */
  seconds: number;
  seed: number;
  /** A valid login, run every `loginEvery` cases and at the end. */
  login: { user: string; token: () => Promise<string> };
  loginEvery?: number;
  log?: (line: string) => void;
}

export interface FuzzReport { cases: number; seed: number; byTarget: Record<string, number>; failures: string[] }

type Target = 'imap' | 'imap-starttls' | 'imaps' | 'smtp' | 'smtp-starttls' | 'smtps' | 'pop3' | 'pop3-stls' | 'pop3s' | 'sieve' | 'sieve-starttls';
type Proto = 'imap' | 'smtp' | 'pop3' | 'sieve';
const PROTO: Record<Target, Proto> = {
  imap: 'imap', 'imap-starttls': 'imap', imaps: 'imap', smtp: 'smtp', 'smtp-starttls': 'smtp', smtps: 'smtp',
  pop3: 'pop3', 'pop3-stls': 'pop3', pop3s: 'pop3', sieve: 'sieve', 'sieve-starttls': 'sieve',
};
const protoOf = (t: Target): Proto => PROTO[t];
const implicit = (t: Target): t is 'imaps' | 'smtps' | 'pop3s' => t === 'imaps' || t === 'smtps' || t === 'pop3s';

/** The listeners a test proxy has: POP3 and ManageSieve only where the test turned them on. */
function listenerPorts(p: TestProxy): Partial<Record<Proto | 'imaps' | 'smtps' | 'pop3s', number>> {
  const has = (name: string): number => { try { return p.server.port(name); } catch { return 0; } };
  const ports = { imap: p.imapPort, imaps: p.imapsPort, smtp: p.submissionPort, smtps: p.submissionsPort, pop3: has('pop3'), pop3s: has('pop3s'), sieve: p.managesievePort };
  return Object.fromEntries(Object.entries(ports).filter(([, v]) => v > 0));
}
function targetsOf(p: TestProxy): Target[] {
  const ports = listenerPorts(p);
  return (Object.keys(PROTO) as Target[]).filter((t) => (implicit(t) ? ports[t] : ports[protoOf(t)]));
}

/** mulberry32: small, fast, seedable; a failing case is replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64');
const IMAP_SESSIONS = [
  'a1 CAPABILITY\r\na2 ID ("name" "fuzz" "version" "1")\r\na3 NOOP\r\n',
  `a1 AUTHENTICATE PLAIN ${b64('\0alice@example.test\0wrong')}\r\n`,
  'a1 AUTHENTICATE OAUTHBEARER\r\n' + b64('n,a=alice@example.test,\x01auth=Bearer abc\x01\x01') + '\r\n\x01\r\n',
  `a1 AUTHENTICATE XOAUTH2 ${b64('user=alice@example.test\x01auth=Bearer abc\x01\x01')}\r\n\r\n`,
  'a1 LOGIN {18}\r\nalice@example.test {5+}\r\nwrong\r\n',
  'a1 LOGIN "alice@example.test" "wr\\"ong"\r\na2 LOGOUT\r\n',
  'a1 AUTHENTICATE LOGIN\r\n' + b64('alice@example.test') + '\r\n' + b64('pw') + '\r\n',
  'a1 ID NIL\r\na2 ENABLE IMAP4rev2\r\na3 SELECT INBOX\r\na4 STARTTLS\r\n',
];
const SMTP_SESSIONS = [
  'EHLO fuzz.example\r\nNOOP\r\nRSET\r\nHELP\r\n',
  `EHLO fuzz.example\r\nAUTH PLAIN ${b64('\0alice@example.test\0wrong')}\r\n`,
  `EHLO fuzz.example\r\nAUTH XOAUTH2 ${b64('user=alice@example.test\x01auth=Bearer abc\x01\x01')}\r\n\r\n`,
  'EHLO fuzz.example\r\nAUTH OAUTHBEARER\r\n' + b64('n,a=alice@example.test,\x01auth=Bearer abc\x01\x01') + '\r\nAQ==\r\n',
  'EHLO fuzz.example\r\nAUTH LOGIN\r\n' + b64('alice@example.test') + '\r\n' + b64('pw') + '\r\n',
  'HELO fuzz\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n',
  'EHLO fuzz.example\r\nAUTH PLAIN\r\n*\r\nVRFY root\r\nEXPN all\r\n',
];
const POP3_SESSIONS = [
  'CAPA\r\nNOOP\r\nSTAT\r\nQUIT\r\n',
  'USER alice@example.test\r\nPASS wrong password\r\n',
  `AUTH PLAIN ${b64('\0alice@example.test\0wrong')}\r\n`,
  `AUTH XOAUTH2 ${b64('user=alice@example.test\x01auth=Bearer abc\x01\x01')}\r\n\r\n`,
  'AUTH OAUTHBEARER\r\n' + b64('n,a=alice@example.test,\x01auth=Bearer abc\x01\x01') + '\r\nAQ==\r\n',
  'AUTH LOGIN\r\n' + b64('alice@example.test') + '\r\n*\r\nAUTH =\r\nAUTH\r\n',
  'STLS\r\nUSER x\r\nAPOP a b\r\nTOP 1 1\r\n',
];
const SIEVE_SESSIONS = [
  'CAPABILITY\r\nNOOP "tag"\r\nNOOP {3+}\r\nabc\r\nLOGOUT\r\n',
  `AUTHENTICATE "PLAIN" "${b64('\0alice@example.test\0wrong')}"\r\n`,
  `AUTHENTICATE "XOAUTH2" {${b64('user=alice@example.test\x01auth=Bearer abc\x01\x01').length}+}\r\n${b64('user=alice@example.test\x01auth=Bearer abc\x01\x01')}\r\n""\r\n`,
  'AUTHENTICATE "OAUTHBEARER"\r\n"' + b64('n,a=alice@example.test,\x01auth=Bearer abc\x01\x01') + '"\r\n"*"\r\n',
  'AUTHENTICATE "LOGIN"\r\n{24+}\r\n' + b64('alice@example.test') + '\r\n"cHc="\r\n',
  'STARTTLS\r\nPUTSCRIPT "a" {5}\r\nkeep;\r\nHAVESPACE "x" 1\r\nUNAUTHENTICATE\r\n',
];
const SESSIONS: Record<Proto, string[]> = { imap: IMAP_SESSIONS, smtp: SMTP_SESSIONS, pop3: POP3_SESSIONS, sieve: SIEVE_SESSIONS };
const NASTY = ['\r\n', '\n', '\r', '\0', '{', '}', '{4294967296}', '{99999999+}\r\n', '"', '\\', '(', ')', '*', '+', ' ', '\x01', '\xff', '=', 'AQ==', '.', '\r\n.\r\n',
  'GET / HTTP/1.1\r\n', 'STARTTLS\r\n', 'a STARTTLS\r\n', 'AUTH PLAIN\r\n', 'x AUTHENTICATE PLAIN\r\n', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n'];

function payload(r: () => number, proto: Proto): Buffer {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const kind = r();
  if (kind < 0.2) { // random bytes
    const n = Math.floor(r() * (r() < 0.1 ? 40_000 : 600));
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
    return b;
  }
  // a valid session, mutated
  const bytes = [...Buffer.from(pick(SESSIONS[proto]), 'latin1')];
  const mutations = Math.floor(r() * 6);
  for (let m = 0; m < mutations; m++) {
    const at = Math.floor(r() * (bytes.length + 1));
    const op = r();
    if (op < 0.25) bytes[at] = Math.floor(r() * 256);
    else if (op < 0.5) bytes.splice(at, 0, ...Buffer.from(pick(NASTY), 'latin1'));
    else if (op < 0.65) bytes.splice(at, Math.floor(r() * 20));
    else if (op < 0.8) bytes.splice(at, 0, ...Buffer.alloc(Math.floor(r() * (r() < 0.2 ? 40_000 : 300)), pick([0x41, 0x20, 0x7b, 0x22, 0x28])));
    else bytes.push(...bytes.slice(0, at)); // repeat a prefix (pipelining)
  }
  if (r() < 0.3) bytes.length = Math.floor(r() * bytes.length); // cut short
  return Buffer.from(bytes);
}

/** Connects to the target; for the STARTTLS / STLS targets does the upgrade first. Returns a writable socket and a reader. */
async function open(target: Target, p: TestProxy, ca: string): Promise<{ sock: net.Socket; got: () => string; closed: () => boolean }> {
  const ports = listenerPorts(p);
  const port = (implicit(target) ? ports[target] : ports[protoOf(target)])!;
  const refused = (r: string): never => { throw new Error(`STARTTLS refused: ${r}`); };
  switch (target) {
    case 'imap-starttls': {
      const c = await RawClient.connect(port);
      await c.line();
      const r = await c.startTls(ca);
      return / OK /.test(r) ? wrap(c.socket) : refused(r);
    }
    case 'smtp-starttls': {
      const s = await RawSmtp.connect(port);
      await s.reply();
      await s.ehlo();
      const r = await s.startTls(ca);
      return r.code === 220 ? wrap(s.socket) : refused(r.raw);
    }
    case 'pop3-stls': {
      const c = await RawPop3.connect(port);
      await c.line();
      const r = await c.stls(ca);
      return r.startsWith('+OK') ? wrap(c.socket) : refused(r);
    }
    case 'sieve-starttls': {
      const c = await RawSieve.connect(port);
      await c.response();
      const r = await c.startTls(ca);
      return r.response.startsWith('OK') ? wrap(c.socket) : refused(r.response);
    }
    default: break;
  }
  const raw = net.connect(port, '127.0.0.1');
  raw.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => { raw.once('connect', () => resolve()); raw.once('error', reject); });
  if (implicit(target)) {
    const secure = tls.connect({ socket: raw, ca, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => { secure.once('secureConnect', () => resolve()); secure.once('error', reject); });
    return wrap(secure);
  }
  return wrap(raw);
}

function wrap(sock: net.Socket): { sock: net.Socket; got: () => string; closed: () => boolean } {
  let text = '';
  let closed = false;
  sock.removeAllListeners('data');
  sock.on('data', (d: Buffer | string) => { if (text.length < 200_000) text += d.toString(); });
  sock.on('error', () => undefined);
  sock.on('close', () => { closed = true; });
  sock.resume();
  return { sock, got: () => text, closed: () => closed };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function oneCase(r: () => number, target: Target, p: TestProxy, ca: string): Promise<void> {
  const conn = await open(target, p, ca);
  if (target === 'smtp') await sleep(r() < 0.1 ? 0 : 10); // sometimes an early talker
  const data = payload(r, protoOf(target));
  // Random chunking, sometimes with small pauses between chunks.
  let at = 0;
  while (at < data.length && !conn.closed()) {
    const n = 1 + Math.floor(r() * (r() < 0.5 ? 16 : 4096));
    conn.sock.write(data.subarray(at, at + n));
    at += n;
    if (r() < 0.1) await sleep(Math.floor(r() * 5));
  }
  await sleep(Math.floor(r() * 30));
  const end = r();
  if (end < 0.3) conn.sock.end();
  else if (end < 0.5 && 'resetAndDestroy' in conn.sock && !(conn.sock instanceof tls.TLSSocket)) conn.sock.resetAndDestroy();
  else conn.sock.destroy();
}

/** The proxy still greets and answers NOOP (IMAP, ManageSieve), EHLO (SMTP) or CAPA (POP3) on a fresh connection. */
async function stillAnswers(proto: Proto, p: TestProxy): Promise<void> {
  const ports = listenerPorts(p);
  if (proto === 'smtp') {
    const s = await RawSmtp.connect(p.submissionPort);
    try {
      if ((await s.reply(3000)).code !== 220) throw new Error('no 220 greeting');
      if ((await s.ehlo('check.example', 3000)).code !== 250) throw new Error('EHLO not answered');
    } finally { s.close(); }
    return;
  }
  if (proto === 'pop3') {
    const c = await RawPop3.connect(ports.pop3!);
    try {
      if (!/^\+OK/.test(await c.line(3000))) throw new Error('no +OK greeting');
      if (!/^\+OK/.test(await c.command('CAPA', 3000))) throw new Error('CAPA not answered');
    } finally { c.close(); }
    return;
  }
  if (proto === 'sieve') {
    const c = await RawSieve.connect(ports.sieve!);
    try {
      if (!/^OK/.test((await c.response(3000)).response)) throw new Error('no OK greeting');
      if (!/^OK/.test((await c.command('NOOP', 3000)).response)) throw new Error('NOOP not answered');
    } finally { c.close(); }
    return;
  }
  const c = await RawClient.connect(p.imapPort);
  try {
    if (!/^\* OK/.test(await c.line(3000))) throw new Error('no * OK greeting');
    if (!/^h1 OK/.test((await c.command('h1 NOOP', 3000)).tagged)) throw new Error('NOOP not answered');
  } finally { c.close(); }
}

async function validLogins(p: TestProxy, login: FuzzOptions['login']): Promise<void> {
  const c = await imaps(p);
  try {
    const tagged = await imapTokenLogin(c, login.user, await login.token());
    if (!/^a1 OK /.test(tagged)) throw new Error(`valid IMAP login failed: ${tagged}`);
  } finally { c.close(); }
  const s = await smtps(p);
  try {
    const res = await smtpTokenLogin(s, login.user, await login.token());
    if (res.code !== 235) throw new Error(`valid SMTP login failed: ${res.code} ${res.text}`);
  } finally { s.close(); }
}

export async function runFuzzCampaign(o: FuzzOptions): Promise<FuzzReport> {
  const ca = readFileSync(o.proxy.certs.caFile, 'utf8');
  const r = rng(o.seed);
  const deadline = Date.now() + o.seconds * 1000;
  const byTarget: Record<string, number> = {};
  const failures: string[] = [];
  const loginEvery = o.loginEvery ?? 50;
  const targets = targetsOf(o.proxy);
  let n = 0;
  for (; n < o.cases && Date.now() < deadline; n++) {
    const caseSeed = Math.floor(r() * 2 ** 31);
    const cr = rng(caseSeed);
    const target = targets[Math.floor(cr() * targets.length)]!;
    byTarget[target] = (byTarget[target] ?? 0) + 1;
    try {
      await oneCase(cr, target, o.proxy, ca);
      await stillAnswers(protoOf(target), o.proxy);
      if ((n + 1) % loginEvery === 0) await validLogins(o.proxy, o.login);
    } catch (err) {
      failures.push(`case ${n} (seed ${caseSeed}, ${target}): ${(err as Error).message}`);
      if (failures.length >= 5) break;
    }
    if (n % 100 === 99) o.log?.(`${n + 1} cases, ${failures.length} failures`);
  }
  try {
    await validLogins(o.proxy, o.login);
  } catch (err) {
    failures.push(`final login: ${(err as Error).message}`);
  }
  const p = o.proxy;
  const left = await settleConnections(Object.values(listenerPorts(p)), 0, 5000);
  if (left) failures.push(`${left} connections still open on the proxy's ports after the campaign`);
  const errors = p.logs().filter((l) => Number(l.level) >= 50);
  if (errors.length) failures.push(`error-level log lines: ${JSON.stringify(errors.slice(0, 3))}`);
  return { cases: n, seed: o.seed, byTarget, failures };
}

// ---- the long campaign ------------------------------------------------------------------------

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { startBackend } = await import('../harness/backend.js');
  const { startIdp } = await import('../harness/idp.js');
  const { startProxy } = await import('../harness/proxy.js');
  const { recordCrashes, fdCount } = await import('./fakes/leaks.js');
  const crashes = recordCrashes();
  const backend = await startBackend();
  const idp = await startIdp();
  const proxy = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env: { LOG_LEVEL: 'info', PREAUTH_TIMEOUT_SECONDS: '10', MAX_CONNECTIONS_PER_IP: '20' } });
  const user = backend.users[0]!.email;
  let token = { value: '', at: 0 };
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  const fd0 = fdCount();
  console.log(`socket fuzz: seed ${seed}, ${process.env.FUZZ_CASES ?? 'unlimited'} cases, ${process.env.FUZZ_SECONDS ?? 600} s`);
  let report: FuzzReport;
  try {
    report = await runFuzzCampaign({
      proxy,
      cases: Number(process.env.FUZZ_CASES ?? Infinity),
      seconds: Number(process.env.FUZZ_SECONDS ?? 600),
      seed,
      login: { user, token: async () => (Date.now() - token.at > 600_000 ? (token = { value: await idp.mintToken(user), at: Date.now() }).value : token.value) },
      log: (l) => console.log(l),
    });
  } finally {
    await proxy.stop();
    await idp.stop();
    await backend.stop();
  }
  const fd1 = fdCount();
  if (fd1 > fd0) report.failures.push(`descriptors: ${fd0} before, ${fd1} after`);
  if (crashes.describe()) report.failures.push(crashes.describe());
  console.log(JSON.stringify(report, null, 2));
  process.exitCode = report.failures.length ? 1 : 0;
}
