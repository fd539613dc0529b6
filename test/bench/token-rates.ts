// Token validations per second in-process (the same cases as test/bench/tokens.ts): a cached
// token's decision, and a local JWT verified in full (cache off).
import { performance } from 'node:perf_hooks';
import type { Idp } from '../harness/idp.js';
import { modeEnv, validation } from '../auth/helpers.js';
import type { TokenValidation } from '../../src/auth/factory.js';

async function rate(v: TokenValidation, token: string, durationMs: number): Promise<number> {
  const first = await v.checker.check(token);
  if (first.status !== 'valid') throw new Error(`warm-up check was ${first.status}`);
  for (let i = 0; i < 200; i++) await v.checker.check(token);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < durationMs) {
    for (let i = 0; i < 100; i++) await v.checker.check(token);
    n += 100;
  }
  return n / ((performance.now() - start) / 1000);
}

export async function tokenRates(idp: Idp, durationMs: number): Promise<{ cachedPerS: number; localJwtPerS: number }> {
  const cached = validation(modeEnv(idp, 'post'));
  const local = validation(modeEnv(idp, 'local', { OAUTH2_CACHE_MAX_ENTRIES: '0' }));
  try {
    const cachedPerS = await rate(cached, await idp.mintToken('alice@example.test'), durationMs);
    const localJwtPerS = await rate(local, await idp.mintJwt('alice@example.test'), durationMs);
    return { cachedPerS, localJwtPerS };
  } finally {
    await cached.close();
    await local.close();
  }
}
