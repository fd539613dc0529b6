// The decision cache with a fake clock and a fake router: TTL bounds, negative caching,
// unavailable never cached, singleflight, and no token in any reason.
import t from 'tap';
import { TokenChecker } from '../../src/auth/token-check.js';
import type { IssuerDecision } from '../../src/auth/issuers.js';

function setup(decide: (token: string) => IssuerDecision | Promise<IssuerDecision>, opts = { ttlSeconds: 300, negativeSeconds: 10, maxEntries: 100 }) {
  let now = 1_700_000_000_000;
  let calls = 0;
  const checker = new TokenChecker({ check: async (tok) => { calls += 1; return decide(tok); } }, opts, undefined, () => now);
  return { checker, calls: () => calls, advance: (s: number) => { now += s * 1000; }, nowS: () => Math.floor(now / 1000) };
}

const valid = (expiresAt?: number): IssuerDecision => ({ status: 'valid', issuer: 'i', mode: 'post', user: 'a@b.c', claim: 'email', evidence: {}, ...(expiresAt ? { expiresAt } : {}) });

t.test('positive: at most the TTL, at most the token lifetime', async (t) => {
  const s = setup(() => valid());
  t.match(await s.checker.check('tok-1'), { cached: false, cacheTtlSeconds: 300 });
  s.advance(299);
  t.match(await s.checker.check('tok-1'), { cached: true, cacheTtlSeconds: 1 });
  s.advance(1);
  t.match(await s.checker.check('tok-1'), { cached: false }, 'expired entry: asks again');
  t.equal(s.calls(), 2);

  const short = setup(() => valid(short.nowS() + 42));
  t.match(await short.checker.check('tok-2'), { cacheTtlSeconds: 42 });
  short.advance(42);
  await short.checker.check('tok-2');
  t.equal(short.calls(), 2, 'not reused past exp');

  const expired = setup(() => valid(expired.nowS() - 5));
  t.match(await expired.checker.check('tok-3'), { status: /^valid$/, cacheTtlSeconds: 0 });
});

t.test('negative briefly, unavailable never', async (t) => {
  const neg = setup(() => ({ status: 'invalid', reason: 'nope' }));
  t.match(await neg.checker.check('bad'), { cacheTtlSeconds: 10, cached: false });
  t.match(await neg.checker.check('bad'), { cached: true });
  neg.advance(10);
  await neg.checker.check('bad');
  t.equal(neg.calls(), 2);

  const down = setup(() => ({ status: 'unavailable', reason: 'IdP down' }));
  await down.checker.check('x');
  t.match(await down.checker.check('x'), { status: 'unavailable', cached: false, cacheTtlSeconds: 0 });
  t.equal(down.calls(), 2);
});

t.test('bounded: the cache never holds more than maxEntries', async (t) => {
  const s = setup(() => valid(), { ttlSeconds: 300, negativeSeconds: 10, maxEntries: 5 });
  for (let i = 0; i < 50; i++) await s.checker.check(`token-${i}`);
  t.equal(s.checker.size, 5);
  const off = setup(() => valid(), { ttlSeconds: 300, negativeSeconds: 10, maxEntries: 0 });
  await off.checker.check('a');
  await off.checker.check('a');
  t.equal(off.calls(), 2, 'maxEntries 0: no cache');
});

t.test('concurrent checks of one token: one router call', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const s = setup(async () => { await gate; return valid(); });
  const all = Promise.all(Array.from({ length: 25 }, () => s.checker.check('same')));
  release();
  t.equal((await all).length, 25);
  t.equal(s.calls(), 1);
});

t.test('a reason never carries the token; a throwing router is unavailable', async (t) => {
  const tok = 'secret-token-value-123';
  const s = setup((x) => ({ status: 'invalid', reason: `IdP said: ${x} is bad` }));
  const d = await s.checker.check(tok);
  t.notOk(JSON.stringify(d).includes(tok));
  const boom = setup(() => { throw new Error(`crash with ${tok}`); });
  t.match(await boom.checker.check(tok), { status: 'unavailable', reason: /internal error/ });
});

t.test('rejected decisions are kept apart: a spray of bad tokens never evicts a valid decision', async (t) => {
  let idpUp = true;
  const s = setup((tok) => (!idpUp ? { status: 'unavailable', reason: 'IdP down' } : tok === 'good' ? valid() : { status: 'invalid', reason: 'nope' }), { ttlSeconds: 300, negativeSeconds: 10, maxEntries: 8 });
  t.match(await s.checker.check('good'), { status: 'valid', cached: false });
  for (let i = 0; i < 100; i++) await s.checker.check(`forged-${i}`);
  t.ok(s.checker.size <= 8 + 2, `bounded: ${s.checker.size} decisions held`);
  idpUp = false; // the IdP goes down: the cached valid decision must still answer
  t.match(await s.checker.check('good'), { status: 'valid', cached: true }, 'the valid decision survived the spray');
  t.match(await s.checker.check('forged-99'), { status: 'invalid', cached: true }, 'the latest rejections are still cached');
});
