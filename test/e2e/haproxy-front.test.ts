// A real HAProxy (the Debian package, TCP mode) in front of every listener, sending PROXY v1
// (send-proxy) or v2 (send-proxy-v2) as a balancer does; the topology matrix writes the same
// headers by hand. Each case logs in with a token through HAProxy, and the client's address
// (not HAProxy's) must reach our login event. HAProxy dials from 127.0.0.2, the only trusted
// network; clients reach HAProxy from 127.0.3.x.
import t from 'tap';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackendAndIdp } from '../harness/stack.js';
import { eventually, startProxy } from '../harness/proxy.js';
import { freePorts } from '../harness/ports.js';
import { RawClient, xoauth2 } from '../harness/raw-imap.js';
import { RawSmtp, xoauth2Ir } from '../harness/raw-smtp.js';
import { RawPop3 } from '../harness/raw-pop3.js';
import { RawSieve } from '../harness/raw-sieve.js';
import { haproxyVersion } from '../bench/forwarder.js';

const skip = haproxyVersion() ? false : 'haproxy is not installed';
const { backend, idp } = await startBackendAndIdp(t);
const alice = backend.users[0]!.email;
const proxy = await startProxy({
  backend, userinfoUrl: idp.userinfoUrl,
  env: { PROXY_PROTOCOL_TRUSTED_NETWORKS: '127.0.0.2/32', LISTEN_POP3: '127.0.0.1:0', LISTEN_POP3S: '127.0.0.1:0', LISTEN_MANAGESIEVE: '127.0.0.1:0' },
});
t.teardown(() => proxy.stop());
const ca = await readFile(proxy.certs.caFile, 'utf8');

type Name = 'imap' | 'imaps' | 'submission' | 'submissions' | 'pop3' | 'pop3s' | 'managesieve';
const NAMES: Name[] = ['imap', 'imaps', 'submission', 'submissions', 'pop3', 'pop3s', 'managesieve'];
const VERSIONS = ['send-proxy', 'send-proxy-v2'] as const;

// One HAProxy, a frontend per (listener, version).
const ports = await freePorts(NAMES.length * VERSIONS.length);
const front = new Map<string, number>();
const cfg = ['global', '  nbthread 1', 'defaults', '  mode tcp', '  timeout connect 5s', '  timeout client 30s', '  timeout server 30s'];
let i = 0;
for (const name of NAMES) {
  for (const v of VERSIONS) {
    const port = ports[i++]!;
    front.set(`${name} ${v}`, port);
    cfg.push(`listen ${name}-${v}`, `  bind 127.0.0.1:${port}`, `  server proxy 127.0.0.1:${proxy.server.port(name)} ${v} source 127.0.0.2`);
  }
}
const cfgFile = join(proxy.certs.caFile, '..', 'haproxy-front.cfg');
await writeFile(cfgFile, `${cfg.join('\n')}\n`);
const haproxy = skip ? null : spawn('haproxy', ['-f', cfgFile, '-db'], { stdio: 'ignore' });
t.teardown(() => { haproxy?.kill('SIGKILL'); });
if (haproxy) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((r) => { const s = net.connect(ports.at(-1)!, '127.0.0.1', () => { s.destroy(); r(true); }).on('error', () => r(false)); });
    if (up) break;
    if (Date.now() > deadline) throw new Error('haproxy did not start');
    await sleep(50);
  }
}

let n = 0;
for (const name of NAMES) {
  for (const v of VERSIONS) {
    t.test(`${name} behind HAProxy ${v}: a token login, with the client's address`, { skip }, async (t) => {
      const client = `127.0.3.${++n}`;
      const port = front.get(`${name} ${v}`)!;
      const implicitTls = name.endsWith('s');
      const o = { localAddress: client, implicitTls, ca };
      const token = await idp.mintToken(alice);
      if (name === 'imap' || name === 'imaps') {
        const c = await RawClient.connect(port, o);
        t.teardown(() => c.close());
        t.match(await c.line(), /^\* OK /);
        if (!implicitTls) t.match(await c.startTls(ca, 's1'), /^s1 OK /);
        t.match((await c.command(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(alice, token)}`)).tagged, /^a1 OK /);
      } else if (name === 'submission' || name === 'submissions') {
        const s = await RawSmtp.connect(port, o);
        t.teardown(() => s.close());
        t.equal((await s.reply()).code, 220);
        t.equal((await s.ehlo()).code, 250);
        if (!implicitTls) { t.equal((await s.startTls(ca)).code, 220); t.equal((await s.ehlo()).code, 250); }
        t.equal((await s.command(`AUTH XOAUTH2 ${xoauth2Ir(alice, token)}`)).code, 235);
      } else if (name === 'pop3' || name === 'pop3s') {
        const p = await RawPop3.connect(port, o);
        t.teardown(() => p.close());
        t.match(await p.line(), /^\+OK /);
        if (!implicitTls) t.match(await p.stls(ca), /^\+OK/);
        t.match(await p.command(`AUTH XOAUTH2 ${xoauth2(alice, token)}`), /^\+OK /);
      } else {
        const s = await RawSieve.connect(port, o);
        t.teardown(() => s.close());
        t.match((await s.response()).response, /^OK /);
        t.match((await s.startTls(ca)).response, /^OK /);
        t.match((await s.command(`AUTHENTICATE "XOAUTH2" "${xoauth2(alice, token)}"`)).response, /^OK /);
      }
      await eventually(() => proxy.logs().some((l) => l.event === 'login' && l.client === client), 3000, `login event for ${client}`);
      t.pass(`our login event carries ${client}, not HAProxy's 127.0.0.2`);
    });
  }
}
