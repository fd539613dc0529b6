// Adversary pass over the callback login (perf-session): Dovecot's replies are held by a relay
// between the proxy and Dovecot, so a test decides when the backend login settles: the client
// leaves, or the proxy drains, while its login is with Dovecot. Nothing may stay behind: no
// Dovecot connection, no connection slot, no hung client.
import t from 'tap';
import { startBackendAndIdp } from '../harness/stack.js';
import { startGateRelay } from '../harness/gate-relay.js';
import { startProxy, eventually } from '../harness/proxy.js';
import { RawClient } from '../harness/raw-imap.js';

const { backend } = await startBackendAndIdp(t);
const [alice] = backend.users as [typeof backend.users[0]];

async function proxyVia(gatePort: number) {
  const p = await startProxy({
    backend: { ...backend, imapPort: gatePort },
    userinfoUrl: 'http://127.0.0.1:9/unused',
    env: { ALLOW_PLAINTEXT_AUTH: '1', MAX_CONNECTIONS_PER_IP: '2', AUTH_FAIL_DELAY_MS: '0' },
  });
  t.teardown(() => p.stop());
  return p;
}

async function greeted(port: number): Promise<RawClient | string> {
  const c = await RawClient.connect(port);
  const l = await c.line();
  if (l.startsWith('* OK')) return c;
  c.close();
  return l;
}

t.test('clients that leave while Dovecot holds their login: no Dovecot connection and no slot left', async (t) => {
  const gate = await startGateRelay(t, backend.imapPort, backend.host);
  const p = await proxyVia(gate.port);
  gate.hold(); // Dovecot's greeting and replies wait: every login is under way at Dovecot
  for (let i = 0; i < 4; i++) {
    const c = await greeted(p.imapPort);
    if (typeof c === 'string') { t.fail(`refused: ${c}`); continue; }
    c.write(`a1 LOGIN ${alice.email} ${alice.password}\r\na2 NOOP\r\n`);
    await eventually(() => gate.open() === i + 1, 5000, 'the backend connection');
    c.close();
  }
  await new Promise((r) => setTimeout(r, 200));
  gate.release(); // Dovecot's OKs arrive after each client has gone
  await eventually(() => gate.open() === 0, 5000, 'every Dovecot connection closed').then(() => t.pass('no Dovecot connection left'), (e: Error) => t.fail(`${e.message}: ${gate.open()} open`));
  const a = await greeted(p.imapPort);
  const b = await greeted(p.imapPort);
  t.type(a, RawClient, 'first slot free');
  t.type(b, RawClient, 'second slot free');
  const c = await greeted(p.imapPort);
  t.match(c, /^\* BYE /, 'the third is refused: the limit still holds');
  for (const x of [a, b]) if (typeof x !== 'string') {
    x.write(`l1 LOGIN ${alice.email} ${alice.password}\r\n`);
    t.match((await x.until('l1', 10_000)).tagged, /^l1 OK /, 'and logs in');
    x.close();
  }
});

t.test('a drain while Dovecot holds a login: the client gets BYE, no OK, and Dovecot\'s connection is closed', async (t) => {
  const gate = await startGateRelay(t, backend.imapPort, backend.host);
  const p = await proxyVia(gate.port);
  const c = await greeted(p.imapPort);
  if (typeof c === 'string') return t.fail(c);
  gate.hold();
  c.write(`d1 LOGIN ${alice.email} ${alice.password}\r\n`);
  await eventually(() => gate.open() === 1, 5000, 'the backend connection');
  const down = p.server.shutdown(3000);
  const lines: string[] = [];
  for (;;) {
    const l = await c.line(5000).catch(() => null);
    if (l === null) break;
    lines.push(l);
  }
  gate.release();
  await down;
  t.equal(lines.length, 1, `only BYE: ${JSON.stringify(lines)}`);
  t.match(lines, [/^\* BYE /], `only BYE: ${JSON.stringify(lines)}`);
  t.notOk(lines.some((l) => l.startsWith('d1 OK')), 'no OK after the drain');
  await eventually(() => gate.open() === 0, 5000, 'Dovecot connection closed').then(() => t.pass('closed'), (e: Error) => t.fail(e.message));
});
