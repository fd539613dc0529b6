// Adversary: positive token decisions shared over SHARED_STATE_URL are keyed by the token's
// hash alone, and a replica takes one as it stands (user, issuer, mode, expiry) without
// asking whether its own settings would have made it. The in-memory cache goes with the
// process; the shared one does not. So an operator who changes what a token means (the claim
// that names the mailbox, because the old one was editable by users; the domains or groups
// allowed; an issuer dropped) and restarts every replica still has each token validated
// under the old settings log in, as the user the old settings mapped it to, for up to
// OAUTH2_CACHE_TTL_SECONDS (at most a day) with no IdP call. A shared decision must only be
// taken by a replica whose issuer settings made it.
import t, { type Test } from 'tap';
import { startIdp, accountIdFor } from '../harness/idp.js';
import { startRedis } from '../harness/redis.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { createTokenValidation, type TokenValidation } from '../../src/auth/factory.js';
import { redisStore } from '../../src/state/redis-store.js';
import { sharedTokenDecisions } from '../../src/state/shared-tokens.js';
import { failureLimits } from '../../src/state/index.js';
import { BASE_ENV } from '../auth/helpers.js';

const idp = await startIdp();
t.teardown(() => idp.stop());
const redis = await startRedis();
t.teardown(() => redis.stop());
const alice = 'alice@example.test';

/** One replica's token validation with the shared store, as src/server.ts builds it. */
async function replica(t: Test, env: Record<string, string>): Promise<TokenValidation> {
  const config = loadConfig({ ...BASE_ENV, OAUTH2_INTROSPECTION_URL: idp.userinfoUrl, SHARED_STATE_URL: redis.url, ...env });
  const log = createLogger('silent');
  const store = redisStore(config.sharedState!, failureLimits(config.limits), log);
  const v = createTokenValidation(config.oauth2, log, undefined, sharedTokenDecisions(store));
  t.teardown(async () => { await v.close(); await store.close(); });
  // The store connects in the background.
  for (let i = 0; i < 50 && !store.status().up; i++) await new Promise((r) => setTimeout(r, 50));
  t.ok(store.status().up, 'replica joined the store');
  return v;
}

/** Waits for the decision a replica put (not awaited by the login) to be in the store. */
async function stored(n: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const keys = (await redis.command('KEYS *token:*')).match(/^\*(\d+)/);
    if (keys && Number(keys[1]) >= n) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no ${n} shared decisions in the store`);
}

t.test('the mailbox claim changed and every replica restarted: the old mapping is not served from the store', async (t) => {
  const token = await idp.mintToken(alice);
  // Before: the mailbox was the sub at the default domain.
  const before = await replica(t, { OAUTH2_USERNAME_ATTRIBUTE: 'sub', OAUTH2_DEFAULT_DOMAIN: 'example.test' });
  t.match(await before.checker.check(token), { status: 'valid', user: `${accountIdFor(alice)}@example.test` }, 'old settings: the sub');
  await stored(1);
  await before.close();
  // After the restart: the email names the mailbox.
  const after = await replica(t, { OAUTH2_USERNAME_ATTRIBUTE: 'email' });
  const d = await after.checker.check(token);
  t.match(d, { status: 'valid', user: alice }, `new settings map the token to ${alice} (got ${'user' in d ? d.user : d.status}${d.cached ? ', from the store' : ''})`);
});

t.test('a domain no longer allowed: the token is refused after the restart, not served from the store', async (t) => {
  const token = await idp.mintToken(alice);
  const before = await replica(t, {});
  t.match(await before.checker.check(token), { status: 'valid', user: alice });
  await stored(2);
  await before.close();
  const after = await replica(t, { OAUTH2_ALLOWED_DOMAINS: 'other.test' });
  const d = await after.checker.check(token);
  t.match(d, { status: 'invalid', reason: /domain example\.test is not allowed/ }, `refused by the new policy (got ${d.status}${d.cached ? ', from the store' : ''})`);
});

t.test('control: replicas with the same settings share the decision', async (t) => {
  const token = await idp.mintToken(alice);
  const a = await replica(t, { OAUTH2_ALLOWED_DOMAINS: 'example.test' });
  const b = await replica(t, { OAUTH2_ALLOWED_DOMAINS: 'example.test' });
  t.match(await a.checker.check(token), { status: 'valid', user: alice, cached: false });
  for (let i = 0; i < 20; i++) {
    const d = await b.checker.check(token);
    if (d.cached) break;
    await new Promise((r) => setTimeout(r, 25)); // the put is not awaited
  }
  t.match(await b.checker.check(token), { status: 'valid', user: alice, cached: true }, 'taken from the store on the other replica');
});
