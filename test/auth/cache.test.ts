import t from 'tap';
import { LruTtlCache, tokenKey } from '../../src/auth/cache.js';
import { Singleflight } from '../../src/auth/singleflight.js';

t.test('keys are SHA-256 digests, never the token', async (t) => {
  const tok = 'eyJhbGciOiJSUzI1NiJ9.payload.signature';
  const k = tokenKey(tok);
  t.equal(k.length, 43, '256 bits, base64url');
  t.notOk(k.includes('payload'));
  t.equal(tokenKey(tok), k, 'stable');
  t.not(tokenKey(`${tok}x`), k);
});

t.test('expiry follows the clock', async (t) => {
  let now = 1_000_000;
  const c = new LruTtlCache<string>(10, () => now);
  c.set('a', 'A', 5000);
  t.equal(c.get('a')?.value, 'A');
  now += 4999;
  t.equal(c.get('a')?.value, 'A', 'just before expiry');
  now += 1;
  t.equal(c.get('a'), undefined, 'at expiry');
  t.equal(c.size, 0, 'expired entry dropped on read');
  c.set('z', 'Z', 0);
  t.equal(c.get('z'), undefined, 'ttl 0 is not stored');
});

t.test('LRU bound: the least recently used entry goes first', async (t) => {
  const c = new LruTtlCache<number>(3, () => 0);
  c.set('a', 1, 1000);
  c.set('b', 2, 1000);
  c.set('c', 3, 1000);
  c.get('a'); // a is now most recent
  c.set('d', 4, 1000);
  t.equal(c.size, 3, 'at the cap');
  t.equal(c.get('b'), undefined, 'b evicted');
  t.ok(c.get('a') && c.get('c') && c.get('d'));
  for (let i = 0; i < 1000; i++) c.set(`k${i}`, i, 1000);
  t.equal(c.size, 3, 'never above the cap');
  const off = new LruTtlCache<number>(0);
  off.set('a', 1, 1000);
  t.equal(off.size, 0, 'max 0 disables the cache');
});

t.test('singleflight: concurrent calls share one execution; errors are shared and not kept', async (t) => {
  const sf = new Singleflight<number>();
  let calls = 0;
  let release!: (v: number) => void;
  const fn = () => { calls += 1; return new Promise<number>((r) => { release = r; }); };
  const ps = [sf.run('k', fn), sf.run('k', fn), sf.run('k', fn)];
  await new Promise((r) => setImmediate(r));
  t.equal(calls, 1);
  t.equal(sf.size, 1);
  release(7);
  t.same(await Promise.all(ps), [7, 7, 7]);
  t.equal(sf.size, 0, 'forgotten when done');
  await t.rejects(sf.run('e', () => { throw new Error('boom'); }), /boom/);
  t.equal(await sf.run('e', async () => 1), 1, 'a failure is not remembered');
});
