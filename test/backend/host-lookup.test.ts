// The backend host name is resolved once per LOOKUP_TTL_MS, not once per login; a failed
// connect forgets it; while the resolver fails, a recent answer is still used.
import t from 'tap';
import net from 'node:net';
import dns, { type LookupAddress, type LookupOptions } from 'node:dns';
import { once } from 'node:events';
import { HostLookupCache } from '../../src/backend/host-lookup.js';
import { BACKEND_LOOKUP_STALE_MS as LOOKUP_STALE_MS, BACKEND_LOOKUP_TTL_MS as LOOKUP_TTL_MS } from '../../src/limits.js';
import { connectTcp } from '../../src/backend/dial.js';

const V4: LookupAddress = { address: '10.0.0.7', family: 4 };
const V6: LookupAddress = { address: 'fd00::7', family: 6 };

function world(answers: Array<LookupAddress[] | Error>) {
  let clock = 1_000_000;
  const asked: string[] = [];
  const cache = new HostLookupCache(async (host) => {
    asked.push(host);
    await new Promise((r) => setImmediate(r));
    const a = answers.shift() ?? new Error('no more answers');
    if (a instanceof Error) throw a;
    return a;
  }, () => clock);
  return { cache, asked, advance: (ms: number) => { clock += ms; } };
}

t.test('one lookup per name within the TTL, shared by concurrent callers, case-insensitive', async (t) => {
  const w = world([[V4], [V6]]);
  const [a, b] = await Promise.all([w.cache.addresses('mailserver'), w.cache.addresses('MailServer')]);
  t.same(a, [V4]);
  t.same(b, [V4]);
  t.same(w.asked, ['mailserver'], 'concurrent callers shared one lookup');
  w.advance(LOOKUP_TTL_MS - 1);
  t.same(await w.cache.addresses('mailserver'), [V4], 'still fresh');
  t.equal(w.asked.length, 1);
  w.advance(1);
  t.same(await w.cache.addresses('mailserver'), [V6], 'expired: asked again');
  t.equal(w.asked.length, 2);
});

t.test('forget() makes the next call resolve again', async (t) => {
  const w = world([[V4], [V6]]);
  await w.cache.addresses('mailserver');
  w.cache.forget('MAILSERVER');
  t.same(await w.cache.addresses('mailserver'), [V6]);
  t.equal(w.asked.length, 2);
});

t.test('while the resolver fails, an answer up to LOOKUP_STALE_MS old is used; then the error', async (t) => {
  const fail = Object.assign(new Error('queryA ETIMEOUT mailserver'), { code: 'ETIMEOUT' });
  const w = world([[V4], fail, fail, fail]);
  await w.cache.addresses('mailserver');
  w.advance(LOOKUP_TTL_MS);
  t.same(await w.cache.addresses('mailserver'), [V4], 'stale answer while DNS is down');
  w.advance(LOOKUP_STALE_MS - LOOKUP_TTL_MS);
  await t.rejects(w.cache.addresses('mailserver'), { code: 'ETIMEOUT' }, 'too old: the resolver error');
  await t.rejects(world([fail]).cache.addresses('mailserver'), { code: 'ETIMEOUT' }, 'nothing known: the error');
  await t.rejects(world([[]]).cache.addresses('mailserver'), { code: 'ENOTFOUND' }, 'an empty answer is an error');
});

t.test('lookup() answers in both of dns.lookup()\'s forms and honours the family', async (t) => {
  const w = world([[V6, V4]]);
  const ask = (o: LookupOptions) => new Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }>((resolve) => {
    w.cache.lookup('mailserver', o, (err, address, family) => resolve({ err, address, family }));
  });
  t.same(await ask({ all: true }), { err: null, address: [V6, V4], family: undefined }, 'all, in the resolver\'s order');
  t.same(await ask({ family: 4 }), { err: null, address: V4.address, family: 4 });
  t.same(await ask({}), { err: null, address: V6.address, family: 6 }, 'no family: the first');
  t.same((await ask({ all: true, family: 'IPv4' })).address, [V4]);
  const only4 = world([[V4]]);
  const none = await new Promise<NodeJS.ErrnoException | null>((resolve) => only4.cache.lookup('mailserver', { family: 6 }, (err) => resolve(err)));
  t.match(none, { code: 'ENOTFOUND' }, 'no address of the family asked for');
  t.equal(w.asked.length, 1, 'every answer came from one lookup');
});

t.test('connectTcp() resolves a backend name once, and again after a failed connect', async (t) => {
  const real = dns.promises.lookup;
  let lookups = 0;
  // The shared cache resolves through dns.promises.lookup at call time.
  (dns.promises as { lookup: unknown }).lookup = (...args: Parameters<typeof real>) => { lookups++; return real(...args); };
  t.teardown(() => { (dns.promises as { lookup: unknown }).lookup = real; });
  const server = net.createServer((s) => s.destroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const host = `localhost`;
  for (let i = 0; i < 3; i++) (await connectTcp(host, port, 5000)).destroy();
  t.equal(lookups, 1, 'three connects, one lookup');
  server.close();
  await once(server, 'close');
  await t.rejects(connectTcp(host, port, 5000), { code: 'ERR_BACKEND_CONNECT' }, 'refused');
  const again = net.createServer((s) => s.destroy());
  again.listen(port, '127.0.0.1');
  await once(again, 'listening');
  (await connectTcp(host, port, 5000)).destroy();
  t.equal(lookups, 2, 'the failed connect made the next one resolve again');
  (await connectTcp('127.0.0.1', port, 5000)).destroy();
  t.equal(lookups, 2, 'an address is never looked up');
  again.close();
});
