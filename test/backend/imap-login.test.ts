// The IMAP backend login (src/backend/imap-login.ts) over plaintext (DMS_TLS=none) against a
// scripted Dovecot line peer: the bytes it sends, the result it answers, and every way it
// fails, with the reasons and codes the sessions and Fail2Ban rely on. The peer is a fake
// only to inject what real Dovecot never sends (a BYE mid-login, an over-long line, no SASL-IR).
import t, { type Test } from 'tap';
import net from 'node:net';
import { createHook } from 'node:async_hooks';
import { imapBackendLogin, type ImapLoginRequest, type ImapLoginResult } from '../../src/backend/imap-login.js';
import { backendTlsOptions } from '../../src/backend/dial.js';

const GREETING = '* OK [CAPABILITY IMAP4rev1 SASL-IR ID AUTH=PLAIN] Dovecot ready.\r\n';
const CAPS = 'IMAP4rev1 SASL-IR ID IDLE MOVE';
const PLAIN = Buffer.from('alice@example.test\0proxy\0master-secret').toString('base64');
const tlsOptions = backendTlsOptions({ tlsVerify: false, caFile: null, servername: 'localhost' });

const PROXY_V2 = '\r\n\r\n\0\r\nQUIT\n';

type Script = (line: string, s: net.Socket) => void;

/** A peer that greets with `greeting` (null: never) and hands each line it reads to `script`; `seen` keeps the raw bytes. */
async function peer(t: Test, script: Script, greeting: string | null = GREETING): Promise<{ port: number; seen: () => string }> {
  const raw: Buffer[] = [];
  const server = net.createServer((s) => {
    let buf = '';
    s.on('error', () => undefined);
    s.on('data', (chunk: Buffer) => {
      raw.push(chunk);
      buf += chunk.toString('latin1');
      // A PROXY v2 header: 12 bytes of signature, version, family, 2 bytes of length.
      if (buf.startsWith(PROXY_V2) && buf.length >= 16) buf = buf.slice(16 + buf.charCodeAt(14) * 256 + buf.charCodeAt(15));
      for (let lf = buf.indexOf('\n'); lf >= 0; lf = buf.indexOf('\n')) {
        const line = buf.slice(0, lf).replace(/\r$/, '');
        buf = buf.slice(lf + 1);
        script(line, s);
      }
    });
    if (greeting !== null) s.write(greeting);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { server.close(() => r()); for (const c of connections) c.destroy(); }));
  const connections = new Set<net.Socket>();
  server.on('connection', (c) => { connections.add(c); c.on('close', () => connections.delete(c)); });
  return { port: (server.address() as net.AddressInfo).port, seen: () => Buffer.concat(raw).toString('latin1') };
}

/** Dovecot with SASL-IR: ID answered, then the login answered with `reply(tag)`. */
const dovecot = (reply: (tag: string) => string): Script => (line, s) => {
  const tag = line.slice(0, line.indexOf(' '));
  if (/^\S+ ID /.test(line)) s.write(`* ID NIL\r\n${tag} OK ID completed.\r\n`);
  else if (/^\S+ AUTHENTICATE /.test(line)) s.write(reply(tag));
};

const request = (over: Partial<ImapLoginRequest> = {}): ImapLoginRequest => ({
  credentials: { kind: 'master', user: 'alice@example.test', masterUser: 'proxy', masterPassword: 'master-secret' },
  client: { address: '192.0.2.7', port: 51234, localAddress: '127.0.0.1', localPort: 143, tls: false },
  idFields: [['x-originating-ip', '192.0.2.7'], ['x-originating-port', '51234'], ['x-connected-ip', '127.0.0.1'], ['x-connected-port', '143'], ['x-session-ext-id', 'abc']],
  ...over,
});

async function login(port: number, over: Partial<ImapLoginRequest> = {}, at: { timeoutMs?: number; proxyProtocol?: boolean } = {}): Promise<ImapLoginResult> {
  const r = await imapBackendLogin({ host: '127.0.0.1', port, tls: 'none', tlsOptions, timeoutMs: at.timeoutMs ?? 5000, proxyProtocol: at.proxyProtocol ?? false }, request(over));
  if (r.ok) r.socket.destroy();
  return r;
}

const failure = (r: ImapLoginResult): { kind: string; reason: string; undecided?: boolean; code?: string } => {
  if (r.ok) throw new Error('logged in');
  return { kind: r.kind, reason: r.reason, ...(r.undecided !== undefined ? { undecided: r.undecided } : {}), ...(r.code !== undefined ? { code: r.code } : {}) };
};

t.test('SASL-IR: ID and AUTHENTICATE in one write; the OK\'s capabilities and the bytes after it come back', async (t) => {
  const p = await peer(t, dovecot((tag) => `${tag} OK [CAPABILITY ${CAPS}] Logged in\r\n* 1 EXISTS\r\n`));
  const r = await imapBackendLogin({ host: '127.0.0.1', port: p.port, tls: 'none', tlsOptions, timeoutMs: 5000 }, request());
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.capabilities, CAPS);
  t.equal(r.leftover.toString(), '* 1 EXISTS\r\n');
  t.ok(r.loginMs >= 0);
  // The backend socket is handed on with no listener of the login left on it.
  t.equal(r.socket.listenerCount('data') + r.socket.listenerCount('error') + r.socket.listenerCount('connect') + r.socket.listenerCount('close'), 0);
  r.socket.destroy();
  t.equal(p.seen(), `P2 ID ("x-originating-ip" "192.0.2.7" "x-originating-port" "51234" "x-connected-ip" "127.0.0.1" "x-connected-port" "143" "x-session-ext-id" "abc")\r\nP3 AUTHENTICATE PLAIN ${PLAIN}\r\n`);
});

t.test('PROXY v2 header first, then no x-originating-* fields; quotes and backslashes escaped; a password user\'s PLAIN', async (t) => {
  const p = await peer(t, dovecot((tag) => `${tag} OK [CAPABILITY ${CAPS}] Logged in\r\n`));
  const r = await login(p.port, {
    credentials: { kind: 'password', authzid: undefined, username: 'bob@example.test', password: 'pä"ss' },
    idFields: [['x-originating-ip', '192.0.2.7'], ['x-connected-ip', '127.0.0.1'], ['name', 'say "hi" \\o/']],
  }, { proxyProtocol: true });
  t.ok(r.ok);
  const seen = p.seen();
  t.ok(seen.startsWith(PROXY_V2), 'PROXY v2 signature first');
  const plain = Buffer.from('\0bob@example.test\0pä"ss').toString('base64');
  t.ok(seen.endsWith(`P2 ID ("x-connected-ip" "127.0.0.1" "name" "say \\"hi\\" \\\\o/")\r\nP3 AUTHENTICATE PLAIN ${plain}\r\n`), seen.slice(-200));
});

t.test('no ID fields left: no ID command', async (t) => {
  const p = await peer(t, dovecot((tag) => `${tag} OK [CAPABILITY ${CAPS}] Logged in\r\n`));
  t.ok((await login(p.port, { idFields: [['x-originating-ip', '192.0.2.7']] }, { proxyProtocol: true })).ok);
  t.ok(p.seen().endsWith(`P3 AUTHENTICATE PLAIN ${PLAIN}\r\n`) && !p.seen().includes('P2 ID'));
});

t.test('no SASL-IR: ID, then AUTHENTICATE PLAIN, the continuation, the credentials', async (t) => {
  const p = await peer(t, (line, s) => {
    if (line.startsWith('P2 ID ')) s.write('* ID NIL\r\nP2 OK ID completed.\r\n');
    else if (line === 'P3 AUTHENTICATE PLAIN') s.write('+ \r\n');
    else if (line === PLAIN) s.write(`P3 OK [CAPABILITY ${CAPS}] Logged in\r\n`);
    else s.write('* BAD what\r\n');
  }, '* OK [CAPABILITY IMAP4rev1 ID AUTH=PLAIN] ready\r\n');
  const r = await login(p.port);
  t.ok(r.ok && r.capabilities === CAPS);
  t.match(p.seen(), /^P2 ID \(.*\)\r\nP3 AUTHENTICATE PLAIN\r\n.+\r\n$/);
});

t.test('no SASL-IR and no continuation: refused', async (t) => {
  const p = await peer(t, (line, s) => { if (line === 'P3 AUTHENTICATE PLAIN') s.write('P3 NO no\r\n'); }, '* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n');
  t.same(failure(await login(p.port, { idFields: [] })), { kind: 'unavailable', reason: 'backend refused AUTHENTICATE PLAIN' });
});

t.test('an OK without capabilities: CAPABILITY asked; none listed means IMAP4rev1', async (t) => {
  for (const [untagged, want] of [['* CAPABILITY IMAP4rev1 IDLE\r\n', 'IMAP4rev1 IDLE'], ['* OK nothing\r\n', 'IMAP4rev1']] as const) {
    const p = await peer(t, (line, s) => {
      if (line.startsWith('P2 ')) s.write('P2 OK\r\n');
      else if (line.startsWith('P3 ')) s.write('P3 OK Logged in\r\n');
      else if (line === 'P4 CAPABILITY') s.write(`${untagged}P4 OK done\r\nafter`);
    }, '* OK ready\r\n');
    const r = await login(p.port);
    t.ok(r.ok);
    if (r.ok) t.same([r.capabilities, r.leftover.toString()], [want, 'after']);
  }
});

t.test('an OK with an empty capability code: CAPABILITY asked, as the promise path did (never an empty list)', async (t) => {
  const p = await peer(t, (line, s) => {
    if (line.startsWith('P2 ')) s.write('P2 OK\r\n');
    else if (line.startsWith('P3 ')) s.write('P3 OK [CAPABILITY ] Logged in\r\n');
    else if (line === 'P4 CAPABILITY') s.write('* CAPABILITY IMAP4rev1 IDLE\r\nP4 OK done\r\n');
  });
  const r = await login(p.port);
  t.ok(r.ok);
  if (r.ok) t.equal(r.capabilities, 'IMAP4rev1 IDLE');
  t.match(p.seen(), /P4 CAPABILITY\r\n/);
});

t.test('lower-case status, greeting and capability code are read as Dovecot\'s', async (t) => {
  const p = await peer(t, dovecot((tag) => `${tag} ok [capability ${CAPS}] in\r\n`), '* ok hi\r\n');
  const r = await login(p.port);
  t.ok(r.ok && r.capabilities === CAPS);
});

t.test('tagged NO: rejected with its code, or unavailable (undecided) for a temporary one', async (t) => {
  const cases: Array<[string, object]> = [
    ['NO [AUTHENTICATIONFAILED] Authentication failed.', { kind: 'rejected', reason: 'backend answered NO [AUTHENTICATIONFAILED] Authentication failed.', code: 'AUTHENTICATIONFAILED' }],
    ['NO [unavailable] Temporary', { kind: 'unavailable', reason: 'backend answered NO [unavailable] Temporary', undecided: true, code: 'UNAVAILABLE' }],
    ['NO [LIMIT] too many', { kind: 'unavailable', reason: 'backend answered NO [LIMIT] too many', undecided: true, code: 'LIMIT' }],
    ['NO Authentication failed.', { kind: 'rejected', reason: 'backend answered NO Authentication failed.' }],
    ['BAD Invalid', { kind: 'rejected', reason: 'backend answered BAD Invalid' }],
  ];
  for (const [reply, want] of cases) {
    const p = await peer(t, dovecot((tag) => `${tag} ${reply}\r\n`));
    t.same(failure(await login(p.port)), want, reply);
  }
});

t.test('protocol breaks end the login as unavailable, with what went wrong', async (t) => {
  const cases: Array<[string, string | null, Script]> = [
    ['a greeting that is not OK', '* BYE busy\r\n', () => undefined],
    ['BYE during the login', GREETING, dovecot(() => '* BYE shutting down\r\n')],
    ['ID answered NO', GREETING, (line, s) => { if (line.startsWith('P2 ')) s.write('P2 NO [x] bad id\r\n'); }],
    ['a reply to another tag', GREETING, dovecot(() => 'P9 OK hm\r\n')],
    ['a continuation', GREETING, dovecot(() => '+ more\r\n')],
    ['a status not followed by a word break', GREETING, dovecot((tag) => `${tag} OKAY\r\n`)],
    ['a closed connection', GREETING, (line, s) => { if (line.startsWith('P3 ')) s.end(); }],
  ];
  const reasons: string[] = [];
  for (const [what, greeting, script] of cases) {
    const p = await peer(t, script, greeting);
    const f = failure(await login(p.port));
    t.equal(f.kind, 'unavailable', what);
    reasons.push(f.reason);
  }
  t.same(reasons, [
    'unexpected backend greeting: * BYE busy',
    'backend said * BYE shutting down',
    'backend answered P2 with NO [x] bad id',
    'unexpected backend reply to P3',
    'unexpected continuation from the backend',
    'unexpected backend reply to P3',
    'backend closed the connection during login',
  ]);
});

t.test('an over-long line ends the login, one at the cap does not', async (t) => {
  const p = await peer(t, () => undefined, `* OK ${'x'.repeat(70_000)}`);
  t.same(failure(await login(p.port)), { kind: 'unavailable', reason: 'backend sent an over-long line' });
  const q = await peer(t, dovecot((tag) => `${tag} OK [CAPABILITY ${CAPS}] Logged in\r\n`), `* OK ${'x'.repeat(60_000)}\r\n`);
  t.ok((await login(q.port)).ok);
});

t.test('unreachable: the connect error names the address', async (t) => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  t.same(failure(await login(port)), { kind: 'unavailable', reason: `cannot connect to 127.0.0.1:${port}: ECONNREFUSED` });
});

t.test('a backend that never greets runs out of time; once the credentials are out Dovecot\'s penalty is waited for', async (t) => {
  const p = await peer(t, () => undefined, null);
  t.same(failure(await login(p.port, {}, { timeoutMs: 150 })), { kind: 'unavailable', reason: 'backend login took longer than 150 ms' });
  // Answered after three timeouts: the penalty allowance, not a timeout.
  const q = await peer(t, dovecot((tag) => `${tag} OK [CAPABILITY ${CAPS}] in\r\n`));
  const slow = await peer(t, (line, s) => {
    if (line.startsWith('P2 ')) s.write('P2 OK\r\n');
    else if (line.startsWith('P3 ')) setTimeout(() => s.write(`P3 OK [CAPABILITY ${CAPS}] in\r\n`), 450).unref();
  });
  t.ok((await login(q.port, {}, { timeoutMs: 150 })).ok);
  const r = await login(slow.port, {}, { timeoutMs: 150 });
  t.ok(r.ok, r.ok ? 'logged in' : r.reason);
});

t.test('issue 21: no promise from Dovecot\'s greeting to the first command, none but the caller\'s after the OK', async (t) => {
  // Promises made and reactions run in each relay-only window, counted with async_hooks.
  let window: 'off' | 'greeting' | 'ok' = 'off';
  const made = { greeting: 0, ok: 0 };
  const ran = { greeting: 0, ok: 0 };
  const promises = new Set<number>();
  const hook = createHook({
    init(id, type) {
      if (type !== 'PROMISE') return;
      promises.add(id);
      if (window !== 'off') made[window] += 1;
    },
    before(id) { if (window !== 'off' && promises.has(id)) ran[window] += 1; },
  });
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (chunk: Buffer) => {
      window = 'off';
      // Dovecot answers after its auth round trip: a read of its own for the proxy.
      if (chunk.includes('P3 AUTHENTICATE')) setTimeout(() => { window = 'ok'; s.write(`P2 OK\r\nP3 OK [CAPABILITY ${CAPS}] in\r\n`); }, 5);
    });
    // Dovecot greets once its imap-login is up: the connect is long done.
    setTimeout(() => { window = 'greeting'; s.write(GREETING); }, 5);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => { server.close(); });
  hook.enable();
  try {
    const r = await imapBackendLogin({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, tls: 'none', tlsOptions, timeoutMs: 5000 }, request());
    window = 'off';
    t.ok(r.ok);
    if (r.ok) r.socket.destroy();
  } finally {
    hook.disable();
  }
  t.same(made.greeting, 0, 'promises made, greeting → first command');
  t.same(ran.greeting, 0, 'promise reactions, greeting → first command');
  t.ok(ran.ok <= 1, `promise reactions, tagged OK → result (the caller's await): ${ran.ok}`);
});

t.test('a dial that throws at once (a bad port) is a failure result, not a rejection or a later throw', async (t) => {
  const f = failure(await login(70_000, {}, { timeoutMs: 50 }));
  t.equal(f.kind, 'unavailable');
  t.match(f.reason, /^backend login failed: .*70000/);
  await new Promise((r) => setTimeout(r, 120)); // past the login's timeout: its timer is gone
});

t.test('the OK and pipelined untagged data split at every byte: all of it reaches the caller once, in order (leftover, then reads)', async (t) => {
  const reply = `P3 OK [CAPABILITY ${CAPS}] Logged in\r\n* 1 EXISTS\r\n* 2 RECENT\r\n`;
  const after = '* 1 EXISTS\r\n* 2 RECENT\r\n';
  for (let cut = 1; cut < reply.length; cut++) {
    // The peer answers AUTHENTICATE in two writes cut at `cut`.
    const q = await peer(t, (line, s) => {
      if (line.startsWith('P2 ')) s.write('P2 OK\r\n');
      else if (line.startsWith('P3 ')) {
        s.write(reply.slice(0, cut));
        setTimeout(() => s.write(reply.slice(cut)), 5);
      }
    });
    const r = await imapBackendLogin({ host: '127.0.0.1', port: q.port, tls: 'none', tlsOptions, timeoutMs: 5000 }, request());
    if (!r.ok) { t.fail(`cut ${cut}: ${r.reason}`); continue; }
    let got = r.leftover.toString('latin1');
    r.socket.on('data', (d: Buffer) => { got += d.toString('latin1'); });
    r.socket.resume();
    const deadline = Date.now() + 2000;
    while (got.length < after.length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
    await new Promise((res) => setTimeout(res, 10));
    r.socket.destroy();
    if (r.capabilities !== CAPS || got !== after) t.fail(`cut ${cut}: ${JSON.stringify([r.capabilities, got])}`);
  }
  t.pass('every cut');
});

t.test('a PROXY header that cannot be built (a client address that is no IP) fails the login at once, not as a throw out of the socket\'s connect event', async (t) => {
  // A client whose socket was gone at accept time has the address 'unknown' (net/peer.ts):
  // encodeProxyV2() throws for it. Before, that throw escaped the 'connect' listener (an
  // uncaught exception) and the login hung until its timer ran out.
  const p = await peer(t, dovecot((tag) => `${tag} OK [CAPABILITY ${CAPS}] Logged in\r\n`));
  const started = performance.now();
  const f = failure(await login(p.port, { client: { address: 'unknown', port: 0, localAddress: '127.0.0.1', localPort: 143, tls: false } }, { proxyProtocol: true, timeoutMs: 3000 }));
  t.equal(f.kind, 'unavailable');
  t.match(f.reason, /^backend login failed: .*IPv4 or both IPv6/);
  t.ok(performance.now() - started < 1000, 'at once, not after the login timeout');
});
