// Adversary finding: with DMS_MANAGESIEVE_PROXY_PROTOCOL=1 (DMS's ManageSieve behind a
// `haproxy = yes` listener) the start-up probe that reads Dovecot's Sieve capabilities
// connects without a PROXY header. Such a listener waits for the header and drops the
// connection (Dovecot: after its 3 s haproxy timeout), so the probe fails at every start:
// a warn line 'cannot read the backend ManageSieve capabilities yet' for a backend that is
// fine, and until the first login through this replica every greeting lists Dovecot 2.3's
// default SIEVE extensions instead of the server's (Roundcube offers its filter actions from
// that list). The logins themselves send the header and work.
import t from 'tap';
import net from 'node:net';
import { startBackendAndIdp } from '../harness/stack.js';
import { eventually, startProxy } from '../harness/proxy.js';
import { RawSieve } from '../harness/raw-sieve.js';

const PROXY_V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const EXTENSION = 'x-only-this-server';

/** A ManageSieve server behind PROXY protocol, as a haproxy = yes listener: no header first, no greeting. */
async function fakeHaproxySieve(): Promise<{ port: number; headers: number; close(): void }> {
  const state = { headers: 0 };
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => s.destroy(), 1000);
    s.on('data', (d: Buffer) => {
      if (got.length >= 16) return; // past the header: the probe's LOGOUT
      got = Buffer.concat([got, d]);
      if (got.length < 16) return;
      clearTimeout(timer);
      if (!got.subarray(0, 12).equals(PROXY_V2_SIGNATURE)) return void s.destroy();
      state.headers += 1;
      s.write(`"IMPLEMENTATION" "fake"\r\n"SIEVE" "fileinto ${EXTENSION}"\r\n"SASL" "PLAIN"\r\n"VERSION" "1.0"\r\nOK "ready."\r\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  return { port: (server.address() as net.AddressInfo).port, get headers() { return state.headers; }, close: () => server.close() };
}

t.test('the start-up probe sends the PROXY header too: Dovecot\'s capabilities are read, no warning', async (t) => {
  const { backend, idp } = await startBackendAndIdp(t);
  const fake = await fakeHaproxySieve();
  const proxy = await startProxy({
    backend, userinfoUrl: idp.userinfoUrl,
    env: { LISTEN_MANAGESIEVE: '127.0.0.1:0', DMS_MANAGESIEVE_PORT: String(fake.port), DMS_MANAGESIEVE_TLS: 'none', DMS_MANAGESIEVE_PROXY_PROTOCOL: '1' },
  });
  t.teardown(() => proxy.stop());
  const probeFailed = (): boolean => proxy.logs().some((l) => l.event === 'backend-probe-failed');
  await eventually(() => fake.headers > 0 || probeFailed(), 5000, 'the probe to finish').catch(() => undefined);
  t.notOk(probeFailed(), 'no backend-probe-failed warning');
  t.equal(fake.headers, 1, 'the probe began with a PROXY header');
  const c = await RawSieve.connect(proxy.managesievePort);
  t.teardown(() => c.close());
  const greeting = await c.response();
  t.match(greeting.lines.join('\n'), new RegExp(`"SIEVE" "[^"]*${EXTENSION}`), "the greeting lists the server's SIEVE extensions, not the defaults");
});

t.test('against Dovecot\'s own haproxy = yes managesieve listener: no warning', async (t) => {
  const { backend, idp } = await startBackendAndIdp(t);
  const proxy = await startProxy({
    backend, userinfoUrl: idp.userinfoUrl,
    env: { LISTEN_MANAGESIEVE: '127.0.0.1:0', DMS_MANAGESIEVE_PORT: String(backend.managesieveHaproxyPort), DMS_MANAGESIEVE_PROXY_PROTOCOL: '1' },
  });
  t.teardown(() => proxy.stop());
  await new Promise((r) => setTimeout(r, 5000)); // Dovecot drops a connection without its header after 3 s
  t.notOk(proxy.logs().some((l) => l.event === 'backend-probe-failed'), 'no backend-probe-failed warning');
});
