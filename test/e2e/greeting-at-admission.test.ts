// Plaintext listeners write the greeting at admission, before the session is built (issue 21,
// session/line-service.ts). Against the real stack, on IMAP 143, POP3 110 and ManageSieve 4190,
// direct and behind a PROXY v1 header, with and without a certificate and ALLOW_PLAINTEXT_AUTH:
// exactly one greeting, the same capabilities the session itself then answers CAPABILITY with,
// a command pipelined with the connect answered after it; a connection-limit refusal is the
// refusal alone; STARTTLS still works; connects reset at once leave no connection slot taken.
import t from 'tap';
import net from 'node:net';
import tls from 'node:tls';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackendAndIdp } from '../harness/stack.js';
import { startProxy, type TestProxy } from '../harness/proxy.js';

const { backend, idp } = await startBackendAndIdp(t);

const SETTLE_MS = 200;

/** Connects (from `from`, with `header` first), writes `first` at once, reads until `done` or 5 s, then SETTLE_MS more. */
async function transcript(port: number, opts: { from?: string; header?: string; first?: string; done: (s: string) => boolean }): Promise<string> {
  const s = net.connect({ port, host: '127.0.0.1', localAddress: opts.from ?? '127.0.0.1' });
  s.on('error', () => undefined);
  let got = '';
  s.on('data', (d: Buffer) => { got += d.toString('latin1'); });
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.write(`${opts.header ?? ''}${opts.first ?? ''}`);
  const deadline = Date.now() + 5000;
  while (!opts.done(got) && Date.now() < deadline && !s.destroyed) await sleep(10);
  await sleep(SETTLE_MS);
  s.destroy();
  return got;
}

const proxyHeader = (port: number): string => `PROXY TCP4 192.0.2.9 127.0.0.1 40000 ${port}\r\n`;

async function proxyWith(env: Record<string, string>): Promise<TestProxy & { pop3: number; sieve: number }> {
  const p = await startProxy({
    backend, userinfoUrl: idp.userinfoUrl,
    env: { PROXY_PROTOCOL_TRUSTED_NETWORKS: '127.0.0.2/32', MAX_CONNECTIONS_PER_IP: '3', LISTEN_POP3: '127.0.0.1:0', LISTEN_MANAGESIEVE: '127.0.0.1:0', ...env },
  });
  t.teardown(() => p.stop());
  return { ...p, pop3: p.server.port('pop3'), sieve: p.server.port('managesieve') };
}

const CASES = [
  { name: 'certificate, plaintext auth off', env: {}, starttls: true, plain: false },
  { name: 'certificate, plaintext auth on', env: { ALLOW_PLAINTEXT_AUTH: 'true' }, starttls: true, plain: true },
  { name: 'no certificate, plaintext auth on', env: { ALLOW_PLAINTEXT_AUTH: 'true', SSL_CERT_PATH: '', SSL_KEY_PATH: '', LISTEN_IMAPS: '', LISTEN_SUBMISSIONS: '' }, starttls: false, plain: true },
] as const;

for (const c of CASES) {
  t.test(c.name, async (t) => {
    const p = await proxyWith(c.env);
    for (const via of ['direct', 'PROXY v1'] as const) {
      const at = (port: number) => (via === 'direct' ? { from: '127.0.0.1' } : { from: '127.0.0.2', header: proxyHeader(port) });

      // IMAP: the greeting's capability list is the one CAPABILITY answers with, once each.
      const imap = await transcript(p.imapPort, { ...at(p.imapPort), first: 'a CAPABILITY\r\n', done: (s) => s.includes('a OK') });
      const m = /^\* OK \[CAPABILITY ([^\]]*)\] [^\r]*\r\n\* CAPABILITY ([^\r]*)\r\na OK [^\r]*\r\n$/.exec(imap);
      t.ok(m, `${via} IMAP: one greeting, then the pipelined CAPABILITY's answer: ${JSON.stringify(imap)}`);
      if (m) {
        t.equal(m[1], m[2], `${via} IMAP: greeting and CAPABILITY list the same`);
        t.equal(m[1]!.includes('STARTTLS'), c.starttls, `${via} IMAP: STARTTLS offered iff a certificate is configured`);
        t.equal(m[1]!.includes('LOGINDISABLED'), !c.plain);
        t.equal(m[1]!.includes('AUTH=PLAIN'), c.plain);
      }
      const pop3 = await transcript(p.pop3, { ...at(p.pop3), first: 'CAPA\r\n', done: (s) => s.endsWith('\r\n.\r\n') });
      const pm = /^\+OK [^\r]*\r\n\+OK [^\r]*\r\n([\s\S]*)\.\r\n$/.exec(pop3);
      t.ok(pm, `${via} POP3: one greeting, then the pipelined CAPA's answer: ${JSON.stringify(pop3)}`);
      if (pm) t.equal(pm[1]!.includes('STLS'), c.starttls);

      // ManageSieve: the greeting is the capability lines and an OK; CAPABILITY answers the same lines.
      const sieve = await transcript(p.sieve, { ...at(p.sieve), first: 'CAPABILITY\r\n', done: (s) => (s.match(/^OK /gm) ?? []).length >= 2 });
      const parts = sieve.split(/^OK [^\r]*\r\n/m);
      t.equal(parts.length, 3, `${via} ManageSieve: two OKs (greeting, CAPABILITY) and nothing after: ${JSON.stringify(sieve)}`);
      t.equal(parts[0], parts[1], `${via} ManageSieve: greeting and CAPABILITY list the same lines`);
      t.equal(parts[2], '');
      t.equal(parts[0]!.includes('"STARTTLS"'), c.starttls);
    }
  });
}

t.test('connection limit: the refusal alone, no greeting first (direct and behind PROXY)', async (t) => {
  const p = await proxyWith({});
  for (const via of ['direct', 'PROXY v1'] as const) {
    const ports = [[p.imapPort, /^\* BYE \[UNAVAILABLE\] /], [p.pop3, /^-ERR \[SYS\/TEMP\] /], [p.sieve, /^BYE \(TRYLATER\) /]] as const;
    for (const [port, refusal] of ports) {
      const at = via === 'direct' ? { localAddress: '127.0.0.1' } : { localAddress: '127.0.0.2' };
      const held: net.Socket[] = [];
      for (let i = 0; i < 3; i++) {
        const s = net.connect({ port, host: '127.0.0.1', ...at });
        s.on('error', () => undefined);
        if (via !== 'direct') s.write(proxyHeader(port));
        held.push(s);
        await new Promise<void>((r) => s.once('data', () => r()));
      }
      const got = await transcript(port, { from: at.localAddress, header: via === 'direct' ? '' : proxyHeader(port), done: (s) => s.includes('\r\n') });
      t.match(got, refusal, `${via} ${port}: refused`);
      t.equal(got.split('\r\n').filter(Boolean).length, 1, `${via} ${port}: only the refusal line: ${JSON.stringify(got)}`);
      for (const s of held) s.destroy();
      await sleep(100);
    }
  }
});

t.test('connects reset at once leave no slot taken and the proxy answers on', async (t) => {
  const p = await proxyWith({});
  const ports = [p.imapPort, p.pop3, p.sieve];
  for (const port of ports) {
    for (let i = 0; i < 10; i++) {
      for (const [from, header] of [['127.0.0.1', ''], ['127.0.0.2', proxyHeader(port)]] as const) {
        const s = net.connect({ port, host: '127.0.0.1', localAddress: from });
        s.on('error', () => undefined);
        s.once('connect', () => {
          if (header) s.write(header);
          s.resetAndDestroy();
        });
      }
    }
  }
  await sleep(500);
  // MAX_CONNECTIONS_PER_IP is 3: a slot left taken by any of the 60 would refuse these.
  for (const port of ports) {
    for (const [from, header] of [['127.0.0.1', ''], ['127.0.0.2', proxyHeader(port)]] as const) {
      const got = await transcript(port, { from, header, done: (s) => /^(\* OK|\+OK|OK )/m.test(s) });
      t.match(got, /^(\* OK|\+OK|")/, `${port} from ${from}: greeted after the resets: ${JSON.stringify(got.slice(0, 60))}`);
      t.notMatch(got, /BYE|-ERR/);
    }
  }
});

t.test('STARTTLS after the early greeting; implicit TLS greets once after the handshake', async (t) => {
  const p = await proxyWith({});
  const ca = await readFile(p.certs.caFile, 'utf8');
  const s = net.connect({ port: p.imapPort, host: '127.0.0.1' });
  s.on('error', () => undefined);
  let got = '';
  s.on('data', (d: Buffer) => { got += d.toString('latin1'); });
  s.write('s STARTTLS\r\n');
  const deadline = Date.now() + 5000;
  while (!got.includes('s OK') && Date.now() < deadline) await sleep(10);
  t.match(got, /^\* OK \[CAPABILITY [^\]]*STARTTLS[^\]]*\] [^\r]*\r\ns OK [^\r]*\r\n$/);
  s.removeAllListeners('data');
  const secure = tls.connect({ socket: s, ca, servername: 'localhost', checkServerIdentity: () => undefined });
  let after = '';
  secure.on('data', (d: Buffer) => { after += d.toString('latin1'); });
  secure.on('error', () => undefined);
  await new Promise<void>((r, j) => { secure.once('secureConnect', () => r()); secure.once('error', j); });
  secure.write('c CAPABILITY\r\n');
  while (!after.includes('c OK') && Date.now() < deadline + 5000) await sleep(10);
  t.match(after, /^\* CAPABILITY [^\r]*AUTH=PLAIN[^\r]*\r\nc OK/, 'no greeting again after STARTTLS; AUTH offered over TLS');
  t.notMatch(after, /STARTTLS/);
  secure.destroy();

  const i = tls.connect({ port: p.imapsPort, host: '127.0.0.1', ca, servername: 'localhost', checkServerIdentity: () => undefined });
  let imaps = '';
  i.on('data', (d: Buffer) => { imaps += d.toString('latin1'); });
  i.on('error', () => undefined);
  await new Promise<void>((r) => i.once('secureConnect', () => r()));
  i.write('d CAPABILITY\r\n');
  const d2 = Date.now() + 5000;
  while (!imaps.includes('d OK') && Date.now() < d2) await sleep(10);
  await sleep(SETTLE_MS);
  t.equal((imaps.match(/^\* OK /gm) ?? []).length, 1, `implicit TLS: one greeting: ${JSON.stringify(imaps)}`);
  t.match(imaps, /^\* OK \[CAPABILITY [^\]]*AUTH=PLAIN[^\]]*\] [^\r]*\r\n\* CAPABILITY [^\r]*\r\nd OK/);
  i.destroy();
});
