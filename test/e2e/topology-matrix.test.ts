// Every deployment shape does the same real work. Each listener (143 STARTTLS, 993, 587
// STARTTLS, 465, POP3's 110 STLS and 995, ManageSieve's 4190 STARTTLS) is reached with no balancer, through a PROXY v1 balancer and through a
// PROXY v2 balancer; with a balancer, its header arrives in a write of its own or in one
// write with what the client says first (the first command on a plain port, the TLS
// ClientHello on an implicit-TLS port). Each case logs in (with a token, and with a
// password) and then works: IMAP SELECT INBOX + FETCH, SMTP one message sent and found in
// the maildir, POP3 STAT + RETR, ManageSieve a script stored and listed. A first command before the greeting is served by IMAP and refused by SMTP
// (early talker), with or without a balancer. The client address (announced by the
// balancer, or the direct peer) must reach our login event and the backend, in both ways of
// telling the backend (ID/XCLIENT, PROXY v2 out; POP3: XCLIENT ADDR or PROXY v2).
//
// Table-driven: a new listener (POP3, ManageSieve) joins with a row in LISTENERS and, for a
// new protocol, a Driver like `imap` and `smtp` below.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { startBackendAndIdp } from '../harness/stack.js';
import { eventually, startProxy, type TestProxy } from '../harness/proxy.js';
import { RawClient, xoauth2 } from '../harness/raw-imap.js';
import { RawSmtp, plainIr, xoauth2Ir } from '../harness/raw-smtp.js';
import { RawPop3 } from '../harness/raw-pop3.js';
import { RawSieve, b64, literal, xoauth2 as sieveXoauth2 } from '../harness/raw-sieve.js';
import type { LineSocket, LineSocketOptions } from '../harness/line-socket.js';
import type { Backend, MailUser } from '../harness/backend.js';
import { encodeProxyV2 } from '../../src/net/proxy-protocol.js';
import { dovecotLoginLine } from '../harness/flavour.js';

// One backend (XCLIENT allowed from the proxy) and one IdP for the whole file.
const { backend, idp } = await startBackendAndIdp(t, { backend: { xclient: true } });
const alice = backend.users[0] as MailUser;
const BALANCER = '127.0.0.2'; // the only trusted network: direct clients connect from elsewhere in 127/8

// ---- the axes -----------------------------------------------------------------------

interface Inbound {
  readonly name: 'none' | 'v1' | 'v2';
  /** The balancer's header for `client` connecting to our `port`; none: the client connects itself. */
  readonly header: ((client: string, clientPort: number, port: number) => Buffer) | null;
}
const INBOUND: readonly Inbound[] = [
  { name: 'none', header: null },
  { name: 'v1', header: (c, cp, p) => Buffer.from(`PROXY TCP4 ${c} 127.0.0.1 ${cp} ${p}\r\n`) },
  { name: 'v2', header: (c, cp, p) => encodeProxyV2({ address: c, port: cp }, { address: '127.0.0.1', port: p }) },
];

/** own-write: the header alone, then (after the greeting, or 30 ms for TLS) the client. joined: one write. */
type Timing = 'own-write' | 'joined';

/** How the proxy tells DMS the client address: ID x-originating-ip + XCLIENT, or a PROXY v2 header. */
interface Outbound {
  readonly name: 'id-xclient' | 'proxy-v2';
  readonly env: (b: Backend) => Record<string, string>;
}
const OUTBOUND: readonly Outbound[] = [
  { name: 'id-xclient', env: (b) => ({ DMS_SUBMISSION_LOGIN: 'xclient', DMS_POP3_PORT: String(b.pop3Port) }) }, // ManageSieve: Pigeonhole's XCLIENT
  {
    name: 'proxy-v2',
    // Dovecot 2.4 takes the header's TLS flag as TLS already active and refuses STARTTLS:
    // there the IMAP leg is implicit TLS to the haproxy + ssl listener (DMS 10993), and the POP3
    // and ManageSieve legs (DMS has no such listener for them) plaintext, the header's SSL TLV
    // saying the client used TLS.
    env: (b) => ({
      DMS_IMAP_PROXY_PROTOCOL: '1',
      ...(b.flavour === 'debian13' ? { DMS_TLS: 'implicit', DMS_IMAP_PORT: String(b.imapsHaproxyPort) } : { DMS_IMAP_PORT: String(b.imapHaproxyPort) }),
      DMS_SUBMISSION_PROXY_PROTOCOL: '1', DMS_SUBMISSION_PORT: String(b.submissionHaproxyPort),
      DMS_POP3_PROXY_PROTOCOL: '1', DMS_POP3_PORT: String(b.pop3HaproxyPort),
      DMS_MANAGESIEVE_PROXY_PROTOCOL: '1', DMS_MANAGESIEVE_PORT: String(b.managesieveHaproxyPort),
      ...(b.flavour === 'debian13' ? { DMS_POP3_TLS: 'none', DMS_MANAGESIEVE_TLS: 'none' } : {}),
    }),
  },
];

type Mech = 'token' | 'password';

interface ListenerRow {
  /** Our listener's name (as in server.port()). */
  readonly name: 'imap' | 'imaps' | 'submission' | 'submissions' | 'pop3' | 'pop3s' | 'managesieve';
  readonly implicitTls: boolean;
  readonly driver: Driver;
}

/** One protocol's client side; every step asserts on protocol replies. */
interface Driver {
  readonly proto: 'imap' | 'smtp' | 'pop3' | 'managesieve';
  readonly greeting: RegExp;
  /** The first command on a plain port (sent after the greeting, or joined with the header before it). */
  readonly first: string;
  /**
   * What the listener does with a first command that comes before its greeting (joined
   * with the header, or from a direct client that talks first): served, or refused as an
   * early talker (smtp-server's 421 "You talk too soon", as for any client that does not
   * wait for the greeting, RFC 5321 §3.1).
   */
  readonly early: { served: true } | { served: false; reply: RegExp };
  connect(port: number, o: LineSocketOptions): Promise<LineSocket & { write(d: string | Buffer): unknown }>;
  /** Reads the reply to `first`, then STARTTLS and the handshake (the proxy's certificate checked against `ca`). */
  startTls(t: Test, c: LineSocket, ca: string): Promise<void>;
  /** After TLS: login and the work. */
  loginAndWork(t: Test, c: LineSocket, k: Case): Promise<void>;
}

// ---- the drivers --------------------------------------------------------------------

const SEED_SUBJECT = `topology seed ${randomBytes(4).toString('hex')}`;

const imap: Driver = {
  proto: 'imap',
  greeting: /^\* OK /,
  first: 'a0 CAPABILITY',
  early: { served: true },
  connect: (port, o) => RawClient.connect(port, o),
  async startTls(t, raw, ca) {
    const c = raw as RawClient;
    const cap = await c.until('a0');
    t.match(cap.tagged, /^a0 OK /, 'CAPABILITY answered');
    t.match(cap.untagged.join('\n'), /STARTTLS/);
    t.match(await c.startTls(ca, 'a1'), /^a1 OK /, 'STARTTLS');
  },
  async loginAndWork(t, raw, k) {
    const c = raw as RawClient;
    const login = k.mech === 'token'
      ? await c.command(`a2 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}`)
      : await c.command(`a2 LOGIN "${alice.email}" "${alice.password}"`);
    t.match(login.tagged, /^a2 OK /, 'logged in');
    const sel = await c.command('a3 SELECT INBOX');
    t.match(sel.tagged, /^a3 OK /, 'SELECT INBOX');
    t.ok(sel.untagged.some((l) => /^\* [1-9]\d* EXISTS$/.test(l)), 'INBOX holds the seeded message');
    const fetch = await c.command('a4 FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    t.match(fetch.tagged, /^a4 OK /, 'FETCH');
    t.match(fetch.untagged.join('\n'), SEED_SUBJECT, 'the message comes back through the splice');
    const out = await c.command('a5 LOGOUT');
    t.match(out.tagged, /^a5 OK /);
    // Dovecot's log process writes the line on its own time: wait for it, bounded.
    const rip = new RegExp(`${dovecotLoginLine(alice.email)}.*rip=${esc(k.client)}[,\\s]`);
    const line = await eventually(async () => (await backend.dovecotLog()).split('\n').find((l) => rip.test(l)), 5000, `Dovecot login line for ${k.client}`).catch(() => undefined);
    t.ok(line, `Dovecot logs ${k.client}`);
  },
};

const smtp: Driver = {
  proto: 'smtp',
  greeting: /^220 /,
  first: 'EHLO client.example.test',
  early: { served: false, reply: /^421 .*too soon/i },
  connect: (port, o) => RawSmtp.connect(port, o),
  async startTls(t, raw, ca) {
    const c = raw as RawSmtp;
    t.equal((await c.reply()).code, 250, 'EHLO answered');
    t.equal((await c.startTls(ca)).code, 220, 'STARTTLS');
  },
  async loginAndWork(t, raw, k) {
    const c = raw as RawSmtp;
    t.equal((await c.ehlo()).code, 250, 'EHLO over TLS');
    const auth = k.mech === 'token'
      ? await c.command(`AUTH XOAUTH2 ${xoauth2Ir(alice.email, await idp.mintToken(alice.email))}`)
      : await c.command(`AUTH PLAIN ${plainIr(alice.email, alice.password)}`);
    t.equal(auth.code, 235, 'logged in');
    const marker = `topology-${randomBytes(6).toString('hex')}`;
    t.equal((await c.command(`MAIL FROM:<${alice.email}>`)).code, 250);
    t.equal((await c.command(`RCPT TO:<${alice.email}>`)).code, 250);
    t.equal((await c.command('DATA')).code, 354);
    const sent = await c.command(`From: <${alice.email}>\r\nTo: <${alice.email}>\r\nSubject: ${marker}\r\n\r\n${k.title}\r\n.`);
    t.equal(sent.code, 250, 'message queued');
    await c.quit();
    await eventually(() => inMaildir(alice, marker), 10_000, `delivery of ${marker}`);
    t.pass('delivered to the maildir');
    t.match(await backend.postfixLog(), new RegExp(`client=unknown\\[${esc(k.client)}\\]`), `Postfix logs ${k.client}`);
  },
};

const managesieve: Driver = {
  proto: 'managesieve',
  greeting: /^"IMPLEMENTATION" /, // the first of the capability lines; the rest and OK follow
  first: 'CAPABILITY',
  early: { served: true },
  connect: (port, o) => RawSieve.connect(port, o),
  async startTls(t, raw, ca) {
    const c = raw as RawSieve;
    t.match((await c.response()).response, /^OK /, 'greeting complete');
    const cap = await c.response();
    t.match(cap.response, /^OK /, 'CAPABILITY answered');
    t.ok(cap.lines.includes('"STARTTLS"'));
    const tls = await c.startTls(ca);
    t.match(tls.response, /^OK /, 'STARTTLS, capabilities again');
  },
  async loginAndWork(t, raw, k) {
    const c = raw as RawSieve;
    const login = k.mech === 'token'
      ? await c.command(`AUTHENTICATE "XOAUTH2" "${sieveXoauth2(alice.email, await idp.mintToken(alice.email))}"`)
      : await c.command(`AUTHENTICATE "PLAIN" "${b64(`\0${alice.email}\0${alice.password}`)}"`);
    t.match(login.response, /^OK /, 'logged in');
    const name = `t${randomBytes(4).toString('hex')}`;
    t.match((await c.command(`PUTSCRIPT "${name}" ${literal('keep;\r\n')}`)).response, /^OK/, 'PUTSCRIPT');
    t.ok((await c.command('LISTSCRIPTS')).lines.includes(`"${name}"`), 'the script is listed');
    t.match((await c.command('LOGOUT')).response, /^OK/);
    const rip = new RegExp(`managesieve-login: Info: ${dovecotLoginLine(alice.email)}.*rip=${esc(k.client)}[,\\s]`);
    const line = await eventually(async () => (await backend.dovecotLog()).split('\n').find((l) => rip.test(l)), 5000, `Dovecot login line for ${k.client}`).catch(() => undefined);
    t.ok(line, `Dovecot logs ${k.client}`);
  },
};

const pop3: Driver = {
  proto: 'pop3',
  greeting: /^\+OK /,
  first: 'CAPA',
  early: { served: true },
  connect: (port, o) => RawPop3.connect(port, o),
  async startTls(t, raw, ca) {
    const c = raw as RawPop3;
    t.match(await c.line(), /^\+OK/, 'CAPA answered');
    t.ok((await c.body()).includes('STLS'), 'STLS listed');
    t.match(await c.stls(ca), /^\+OK/, 'STLS');
  },
  async loginAndWork(t, raw, k) {
    const c = raw as RawPop3;
    if (k.mech === 'token') {
      t.match(await c.command(`AUTH XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}`), /^\+OK /, 'logged in');
    } else {
      t.match(await c.command(`USER ${alice.email}`), /^\+OK/);
      t.match(await c.command(`PASS ${alice.password}`), /^\+OK /, 'logged in');
    }
    t.match(await c.command('STAT'), /^\+OK [1-9]\d* /, 'STAT: the seeded message is there');
    t.match(await c.command('RETR 1'), /^\+OK/, 'RETR');
    t.match((await c.body()).join('\n'), SEED_SUBJECT, 'the message comes back through the splice');
    t.match(await c.command('QUIT'), /^\+OK/);
    const rip = new RegExp(`pop3-login: .*${dovecotLoginLine(alice.email)}.*rip=${esc(k.client)}[,\\s]`);
    const line = await eventually(async () => (await backend.dovecotLog()).split('\n').find((l) => rip.test(l)), 5000, `Dovecot pop3 login line for ${k.client}`).catch(() => undefined);
    t.ok(line, `Dovecot logs ${k.client}`);
  },
};

// ---- the table ----------------------------------------------------------------------

const LISTENERS: readonly ListenerRow[] = [
  { name: 'imap', implicitTls: false, driver: imap },
  { name: 'imaps', implicitTls: true, driver: imap },
  { name: 'submission', implicitTls: false, driver: smtp },
  { name: 'submissions', implicitTls: true, driver: smtp },
  { name: 'pop3', implicitTls: false, driver: pop3 },
  { name: 'pop3s', implicitTls: true, driver: pop3 },
  { name: 'managesieve', implicitTls: false, driver: managesieve },
];

interface Case {
  readonly title: string;
  readonly listener: ListenerRow;
  readonly inbound: Inbound;
  readonly timing: Timing;
  readonly outbound: Outbound;
  readonly mech: Mech;
  /** Where the TCP connection comes from: the balancer, or the direct client. */
  readonly from: string;
  /** The client address every log must show: announced by the balancer, or the direct peer. */
  readonly client: string;
}

function cases(): Case[] {
  const out: Case[] = [];
  let n = 0;
  for (const outbound of OUTBOUND) {
    for (const listener of LISTENERS) {
      for (const inbound of INBOUND) {
        // Without a header, "joined" is a client that talks first: only a plain port can tell.
        const timings: Timing[] = inbound.header || !listener.implicitTls ? ['own-write', 'joined'] : ['own-write'];
        for (const timing of timings) {
          // A client refused before login logs in with nothing: one case is enough.
          const refused = timing === 'joined' && !listener.implicitTls && !listener.driver.early.served;
          const mechs: Mech[] = refused ? ['token'] : ['token', 'password'];
          for (const mech of mechs) {
            n += 1;
            const direct = `127.0.1.${n}`;
            out.push({
              title: `${listener.name} ${inbound.name} ${timing} ${mech} out=${outbound.name}`,
              listener, inbound, timing, outbound, mech,
              from: inbound.header ? BALANCER : direct,
              client: inbound.header ? `203.0.113.${n}` : direct,
            });
          }
        }
      }
    }
  }
  return out;
}

// ---- running a case -----------------------------------------------------------------

async function runCase(t: Test, k: Case): Promise<void> {
  const { proxy: p, ca } = proxies.get(k.outbound.name)!;
  const { driver, implicitTls } = k.listener;
  const port = p.server.port(k.listener.name);
  const header = k.inbound.header?.(k.client, 40000 + Number(k.client.split('.').at(-1)), port) ?? null;
  const joinedPlain = k.timing === 'joined' && !implicitTls;
  const c = await driver.connect(port, {
    localAddress: k.from, implicitTls, ca,
    ...(header && !joinedPlain ? { preamble: header } : {}),
    ...(implicitTls ? { preambleTiming: k.timing === 'joined' ? 'with-client-hello' : 'own-write' } : {}),
  });
  t.teardown(() => c.close());
  if (joinedPlain) {
    // The header and the first command in one write, before the greeting.
    c.write(Buffer.concat([header ?? Buffer.alloc(0), Buffer.from(`${driver.first}\r\n`)]));
    if (!driver.early.served) {
      t.match(await c.line(), driver.early.reply, 'refused as an early talker, as without a balancer');
      t.ok(await c.waitClosed(3000), 'and closed');
      return;
    }
  }
  t.match(await c.line(), driver.greeting, 'greeting');
  if (!implicitTls) {
    if (!joinedPlain) c.write(`${driver.first}\r\n`);
    await driver.startTls(t, c, ca);
  }
  await driver.loginAndWork(t, c, k);
  await eventually(() => p.logs().some((l) => l.event === 'login' && l.proto === driver.proto && l.client === k.client), 3000, 'login event');
  t.pass(`our login event carries ${k.client}`);
}

// ---- helpers ------------------------------------------------------------------------

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function inMaildir(user: MailUser, marker: string): Promise<boolean> {
  const [local, domain] = user.email.split('@') as [string, string];
  const box = join(backend.dir, 'mail', domain, local, 'Maildir');
  for (const sub of ['new', 'cur']) {
    const files = await readdir(join(box, sub)).catch(() => [] as string[]);
    for (const f of files) if ((await readFile(join(box, sub, f), 'latin1')).includes(marker)) return true;
  }
  return false;
}

// ---- the run ------------------------------------------------------------------------

// The message every IMAP case fetches, delivered through Postfix's port 25 as real mail.
const seed = nodemailer.createTransport({ host: backend.host, port: backend.smtpPort, secure: false, ignoreTLS: true, logger: false });
await seed.sendMail({ from: 'someone@elsewhere.test', to: alice.email, subject: SEED_SUBJECT, text: 'seed' });
await eventually(() => inMaildir(alice, SEED_SUBJECT), 10_000, 'the seed message');

// One proxy per outbound mode; each trusts only the balancer's address for PROXY headers.
const proxies = new Map<Outbound['name'], { proxy: TestProxy; ca: string }>();
for (const o of OUTBOUND) {
  const proxy = await startProxy({
    backend, userinfoUrl: idp.userinfoUrl,
    env: { PROXY_PROTOCOL_TRUSTED_NETWORKS: `${BALANCER}/32`, LISTEN_POP3: '127.0.0.1:0', LISTEN_POP3S: '127.0.0.1:0', LISTEN_MANAGESIEVE: '127.0.0.1:0', ...o.env(backend) },
  });
  t.teardown(() => proxy.stop());
  proxies.set(o.name, { proxy, ca: await readFile(proxy.certs.caFile, 'utf8') });
}

for (const k of cases()) t.test(k.title, (t) => runCase(t, k));
