// Benchmark (not a test: tap runs only *.test.ts): token validations per second for a cached
// token and for local JWT verification with the cache off. Prints one line per case.
//   node --import tsx test/bench/tokens.ts
import { performance } from 'node:perf_hooks';
import { startIdp, DEFAULT_AUDIENCE } from '../harness/idp.js';
import { modeEnv, validation } from '../auth/helpers.js';
import type { TokenValidation } from '../../src/auth/factory.js';

const DURATION_MS = Number(process.env.BENCH_MS ?? 2000);

async function measure(name: string, v: TokenValidation, token: string): Promise<void> {
  const first = await v.checker.check(token);
  if (first.status !== 'valid') throw new Error(`${name}: warm-up check was ${first.status}`);
  for (let i = 0; i < 200; i++) await v.checker.check(token); // JIT warm-up
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < DURATION_MS) {
    for (let i = 0; i < 100; i++) await v.checker.check(token);
    n += 100;
  }
  const s = (performance.now() - start) / 1000;
  console.log(`${name.padEnd(46)} ${Math.round(n / s).toString().padStart(9)} validations/s  (${(s * 1e6 / n).toFixed(1)} µs each)`);
}

const idp = await startIdp();
try {
  const cached = validation(modeEnv(idp, 'post'));
  await measure('cached token (mode post, one IdP call)', cached, await idp.mintToken('alice@example.test'));
  await cached.close();

  const local = validation(modeEnv(idp, 'local', { OAUTH2_CACHE_MAX_ENTRIES: '0' }));
  await measure('local JWT RS256, cache off (full verify)', local, await idp.mintJwt('alice@example.test'));
  await measure('local JWT ES256, cache off (full verify)', local, await idp.mintJwt('alice@example.test', { alg: 'ES256' }));
  await local.close();

  const localCached = validation(modeEnv(idp, 'local'));
  await measure('local JWT RS256, cached', localCached, await idp.mintJwt('alice@example.test', { audience: DEFAULT_AUDIENCE }));
  await localCached.close();
  console.log(`IdP calls: ${JSON.stringify(idp.counts)}`);
} finally {
  await idp.stop();
}
