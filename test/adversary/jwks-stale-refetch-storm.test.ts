// Adversary: local JWT validation promises "no IdP call per login" and that "random kids
// cannot make the proxy hammer the IdP" (docs/token-validation.md, src/auth/jwks.ts): an
// unknown kid refetches the JWKS at most once per OAUTH2_JWKS_COOLDOWN_SECONDS. But once the
// keys are older than JWKS_MAX_AGE_MS (10 min) and the JWKS endpoint fails (an IdP outage,
// a balancer answering 503 at once), every login refreshes them again before anything else,
// outside the cooldown: each token an unauthenticated client sends (random kid, or the known
// kid with a bad signature; every one a cache miss) is one more request to the IdP that is
// already down, at the client's rate. The stale refresh must keep to the cooldown too; the
// cached keys keep validating meanwhile.
import t from 'tap';
import { generateKeyPair } from 'jose';
import { JWKS_MAX_AGE_MS } from '../../src/limits.js';
import { jwksRig } from '../harness/jwks-rig.js';

const rig = await jwksRig({ up: true });
const { validator, cooldownMs, privateKey, sign } = rig;
const other = await generateKeyPair('RS256');

t.test('with stale keys and the JWKS endpoint down, logins do not each fetch the JWKS', async (t) => {
  t.match(await validator.validate(await sign(privateKey, 'k1', 'alice')), { status: 'valid' }, 'first login fetches the keys');
  t.equal(rig.fetches, 1);
  rig.clock += JWKS_MAX_AGE_MS + 1000;
  rig.up = false;
  const before = rig.fetches;
  for (let i = 0; i < 20; i++) {
    // What anyone can send: random kids, and the known kid signed with another key.
    const forged = await sign(other.privateKey, i % 2 ? `random-${i}` : 'k1', `mallory${i}`);
    const d = await validator.validate(forged);
    t.not(d.status, 'valid', `forged token ${i} not accepted`);
    rig.clock += 100; // 2 s for all twenty: well inside the 30 s cooldown
  }
  t.ok(rig.fetches - before <= 1, `20 forged logins inside one cooldown made ${rig.fetches - before} JWKS fetches (at most 1 expected)`);
  t.match(await validator.validate(await sign(privateKey, 'k1', 'bob')), { status: 'valid' }, 'the cached key still validates through the outage');
  t.ok(rig.fetches - before <= 1, 'and a real login adds no fetch inside the cooldown either');
  rig.clock += cooldownMs;
  rig.up = true;
  t.match(await validator.validate(await sign(privateKey, 'k1', 'carol')), { status: 'valid' }, 'after the cooldown the keys are refreshed');
  t.equal(rig.fetches, before + 2, 'one more fetch once the cooldown is over');
});
