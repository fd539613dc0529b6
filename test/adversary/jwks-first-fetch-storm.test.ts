// Adversary: "an unknown kid refetches the JWKS once, at most every
// OAUTH2_JWKS_COOLDOWN_SECONDS, so random kids cannot make the proxy hammer the IdP"
// (docs/token-validation.md), and jwks-stale-refetch-storm holds stale keys to the cooldown.
// But before the first fetch has succeeded (the proxy started while the IdP was down, or its
// JWKS or discovery answers 503 at once), every login fetches again: each token an
// unauthenticated client sends (any JWT naming the issuer: every one a cache miss, none
// counted as a failure, since "unavailable" is not the client's fault) is one more request to
// the IdP that is already down, at the client's rate. With no keys, every kid is unknown:
// the same cooldown applies, and a login inside it is answered unavailable at once.
import t from 'tap';
import { jwksRig } from '../harness/jwks-rig.js';

const rig = await jwksRig({ up: false });
const { validator, cooldownMs } = rig;
const sign = (kid: string, sub: string) => rig.sign(rig.privateKey, kid, sub);

t.test('no keys yet and the JWKS endpoint down: logins do not each fetch it', async (t) => {
  for (let i = 0; i < 20; i++) {
    const d = await validator.validate(await sign(`random-${i}`, `mallory${i}`));
    t.match(d, { status: 'unavailable' }, `login ${i}: unavailable, not a bad token`);
    rig.clock += 100; // 2 s for all twenty: well inside the 30 s cooldown
  }
  t.ok(rig.fetches <= 1, `20 logins inside one cooldown made ${rig.fetches} JWKS fetches (at most 1 expected)`);
  rig.clock += cooldownMs;
  rig.up = true;
  t.match(await validator.validate(await sign('k1', 'alice')), { status: 'valid' }, 'after the cooldown the keys are fetched');
  t.ok(rig.fetches <= 2, 'with one more fetch');
});
