// Adversary pass over the callback login (perf-session) and the greeting-before-bookkeeping
// admission (perf-admit): pipelined commands around logins that settle in the same turn or
// later, a client leaving mid-login, a burst against the connection limits, through the real
// proxy, Dovecot and IdP.
import t from 'tap';
import net from 'node:net';
import { startStack } from '../harness/stack.js';
import { RawClient, xoauth2 } from '../harness/raw-imap.js';

const { idp, proxy, alice, bob } = await startStack(t, {
  proxyEnv: { ALLOW_PLAINTEXT_AUTH: '1', AUTH_FAIL_DELAY_MS: '0', AUTH_FAIL_MAX_PER_IP: '1000', AUTH_FAIL_MAX_PER_USER: '1000', MAX_CONNECTIONS_PER_IP: '3' },
});

/** A greeted connection, closed when `tt` ends (the per-IP limit is 3). */
async function open(tt: { teardown(fn: () => unknown): void; match: typeof t.match }): Promise<RawClient> {
  const c = await RawClient.connect(proxy.imapPort);
  tt.teardown(() => c.close());
  tt.match(await c.line(), /^\* OK /);
  return c;
}

/** Every line up to `lastTag`'s tagged reply; tagged lines only. */
async function taggedUntil(c: RawClient, lastTag: string): Promise<string[]> {
  const tagged: string[] = [];
  for (;;) {
    const l = await c.line(10_000);
    if (/^[a-z]\d /.test(l)) tagged.push(l);
    if (l.startsWith(`${lastTag} `)) return tagged;
  }
}

t.test('one packet: failed LOGINs, commands between them, then a good LOGIN: each answered once, in order', async (t) => {
  const c = await open(t);
  c.write(`a1 LOGIN ${alice.email} wrong\r\na2 CAPABILITY\r\na3 LOGIN ${alice.email} wrong\r\na4 NOOP\r\na5 LOGIN ${alice.email} ${alice.password}\r\na6 NOOP\r\n`);
  const tagged = await taggedUntil(c, 'a6');
  t.match(tagged, [/^a1 NO /, /^a2 OK /, /^a3 NO /, /^a4 OK /, /^a5 OK /, /^a6 OK /]);
  t.equal(tagged.length, 6, JSON.stringify(tagged));
});

t.test('one packet: a cached token (decided in the same turn), then commands for Dovecot', async (t) => {
  const token = await idp.mintToken(alice.email);
  const first = await open(t);
  t.match((await first.command(`w1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, token)}`)).tagged, /^w1 OK /, 'warms the cache');
  const c = await open(t);
  c.write(`c1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, token)}\r\nc2 SELECT INBOX\r\nc3 NOOP\r\n`);
  const tagged = await taggedUntil(c, 'c3');
  t.match(tagged, [/^c1 OK /, /^c2 OK /, /^c3 OK /]);
  t.equal(tagged.length, 3);
});

t.test('a cached token of alice presented as bob, at once: never accepted', async (t) => {
  const token = await idp.mintToken(alice.email);
  const w = await open(t);
  t.match((await w.command(`w1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, token)}`)).tagged, /^w1 OK /);
  w.close();
  const results = await Promise.all(Array.from({ length: 2 }, async (_, i) => {
    const c = await RawClient.connect(proxy.imapPort);
    try {
      await c.line();
      const user = i % 2 ? bob.email : alice.email;
      c.write(`x1 AUTHENTICATE XOAUTH2 ${xoauth2(user, token)}\r\n\r\n`);
      return [user, (await c.until('x1', 10_000)).tagged] as const;
    } finally { c.close(); }
  }));
  for (const [user, reply] of results) {
    if (user === bob.email) t.match(reply, /^x1 NO /, 'bob with alice\'s token');
    else t.match(reply, /^x1 OK /, 'alice with her token');
  }
});

/** Greetings got by `n` connections opened at once (raw sockets, no waiting between). */
async function burst(n: number): Promise<{ greeted: number; refused: number; sockets: net.Socket[] }> {
  const sockets: net.Socket[] = [];
  const firsts = await Promise.all(Array.from({ length: n }, () => new Promise<string>((resolve) => {
    const s = net.connect(proxy.imapPort, '127.0.0.1');
    sockets.push(s);
    let got = '';
    s.on('data', (d: Buffer) => { got += d.toString('latin1'); if (got.includes('\r\n')) resolve(got); });
    s.on('error', () => resolve(got || 'error'));
    s.on('close', () => resolve(got || 'closed'));
    setTimeout(() => resolve(got || 'timeout'), 5000);
  })));
  return { greeted: firsts.filter((l) => l.startsWith('* OK')).length, refused: firsts.filter((l) => l.startsWith('* BYE')).length, sockets };
}

async function settle(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

t.test('a burst of 30 from one IP with MAX_CONNECTIONS_PER_IP=3: exactly 3 greeted, the rest refused with BYE', async (t) => {
  await settle(300); // earlier tests' sockets closed
  const b = await burst(30);
  t.equal(b.greeted, 3);
  t.equal(b.refused, 27);
  for (const s of b.sockets) s.destroy();
});

t.test('clients leaving mid-login (at the IdP, at Dovecot, at once) leave no slot behind', async (t) => {
  await settle(300);
  const token = await idp.mintToken(bob.email); // not cached: the IdP is asked
  const delays = [0, 1, 2, 5, 10, 20, 40, 80];
  for (const d of delays) {
    for (const line of [`l1 LOGIN ${alice.email} ${alice.password}`, `l1 AUTHENTICATE XOAUTH2 ${xoauth2(bob.email, token)}`, `l1 LOGIN ${alice.email} wrong`]) {
      const c = await RawClient.connect(proxy.imapPort);
      await c.line();
      c.write(`${line}\r\nl2 NOOP\r\n`);
      if (d) await settle(d);
      c.close();
    }
  }
  await settle(1500); // every backend login that was under way has settled
  const b = await burst(4);
  t.equal(b.greeted, 3, 'all 3 slots free again');
  t.equal(b.refused, 1);
  for (const s of b.sockets) s.destroy();
});

t.test('one packet: AUTHENTICATE without SASL-IR, its response, a cancelled one, then a good one and a command', async (t) => {
  await settle(500); // the burst's sockets closed
  const c = await open(t);
  const plain = (u: string, p: string): string => Buffer.from(`\0${u}\0${p}`).toString('base64');
  c.write(`p1 AUTHENTICATE PLAIN\r\n${plain(alice.email, 'wrong')}\r\np2 AUTHENTICATE PLAIN\r\n*\r\np3 NOOP\r\np4 AUTHENTICATE PLAIN\r\n${plain(alice.email, alice.password)}\r\np5 NOOP\r\n`);
  const tagged = await taggedUntil(c, 'p5');
  t.match(tagged, [/^p1 NO /, /^p2 BAD /, /^p3 OK /, /^p4 OK /, /^p5 OK /]);
  t.equal(tagged.length, 5, JSON.stringify(tagged));
});
