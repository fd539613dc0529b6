// Adversary: a JWKS the IdP serves broken is the IdP's fault, yet in local mode it makes
// every login a bad credential. jose refuses a set with a member that is no JSON object, and a
// set member that is a private key (an IdP leaking its signing key), with JWKSInvalid, a
// JOSEError, which the JWT validator reads as "the token is bad": AUTHENTICATIONFAILED for
// every user, an auth-failed line for Fail2Ban, a failure against each client's address (a
// whole office behind one NAT is blocked), and the refusal cached. A JWKS that cannot be used
// is "unavailable" (NO [UNAVAILABLE] / 454, nothing counted or cached) and an idp-misconfigured
// error for the operator, as a JWKS that answers 500 or is not a JWK Set already is.
import t from 'tap';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { generateKeyPairSync, sign } from 'node:crypto';
import { startIdp } from '../harness/idp.js';
import { atClaims, captureLog, foreignKey, modeEnv, validation } from '../auth/helpers.js';

const alice = 'alice@example.test';

t.test('a JWKS with a member that is no object: unavailable, not a bad token', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.stop());
  idp.addJwk(null as unknown as Record<string, unknown>); // {"keys":[<own keys>, null]}
  const log = captureLog();
  const v = validation(modeEnv(idp, 'local'), log.logger);
  t.teardown(() => v.close());
  const d = await v.checker.check(await idp.mintJwt(alice));
  t.match(d, { status: 'unavailable', cacheTtlSeconds: 0 }, `the IdP's own token is not refused as bad (${d.status}: ${'reason' in d ? d.reason : ''})`);
  t.ok(log.lines().some((l) => l.event === 'idp-misconfigured'), 'the operator is told (idp-misconfigured)');
});

t.test('a JWKS that breaks after the keys were fetched: a new kid is unavailable, the old keys go on working', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.stop());
  const v = validation(modeEnv(idp, 'local', { OAUTH2_JWKS_COOLDOWN_SECONDS: '0' }));
  t.teardown(() => v.close());
  t.match(await v.checker.check(await idp.mintJwt(alice)), { status: 'valid' }, 'keys fetched');
  idp.addJwk(null as unknown as Record<string, unknown>);
  const rotated = await foreignKey('RS256');
  idp.addJwk(rotated.jwk);
  const d = await v.checker.check(await rotated.sign(atClaims(idp, alice)));
  t.match(d, { status: 'unavailable' }, `a kid whose refetch answered a broken set is not a bad token (${d.status}: ${'reason' in d ? d.reason : ''})`);
  t.match(await v.checker.check(await idp.mintJwt('bob@example.test')), { status: 'valid' }, 'keys fetched before still validate');
});

t.test('a JWKS member that is a private key: unavailable and misconfigured, never valid, never a bad token', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.stop());
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = 'leaked-private';
  idp.addJwk({ ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' });
  const log = captureLog();
  const v = validation(modeEnv(idp, 'local'), log.logger);
  t.teardown(() => v.close());
  const tok = await new SignJWT(atClaims(idp, alice)).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).sign(privateKey);
  const d = await v.checker.check(tok);
  t.match(d, { status: 'unavailable', cacheTtlSeconds: 0 }, `refused as the IdP's problem (${d.status}: ${'reason' in d ? d.reason : ''})`);
  t.ok(log.lines().some((l) => l.event === 'idp-misconfigured'), 'the operator is told (idp-misconfigured)');
  t.match(await v.checker.check(await idp.mintJwt(alice)), { status: 'valid' }, 'tokens under the public keys still validate');
});

// jose refuses an RSA key under 2048 bits (RFC 7518 §3.3) with a plain TypeError at verify
// time: read as a bug (token-check-error), not as the IdP publishing an unusable key.
t.test('a JWKS member that is an RSA key under 2048 bits: unavailable and misconfigured, never valid', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.stop());
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const kid = 'short-rsa';
  idp.addJwk({ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' });
  // The same key again under the kid of the IdP's own RSA key: both are candidates (jwt.ts verifyWithEach).
  const own = (await (await fetch(idp.jwksUrl)).json()) as { keys: Array<Record<string, unknown>> };
  const ownRsaKid = String(own.keys.find((k) => k.kty === 'RSA')!.kid);
  idp.addJwk({ ...publicKey.export({ format: 'jwk' }), kid: ownRsaKid, alg: 'RS256', use: 'sig' });
  const log = captureLog();
  const v = validation(modeEnv(idp, 'local'), log.logger);
  t.teardown(() => v.close());
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const signed = (header: Record<string, unknown>) => {
    const input = `${part(header)}.${part(atClaims(idp, alice))}`;
    return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
  };
  const d = await v.checker.check(signed({ alg: 'RS256', kid, typ: 'at+jwt' }));
  t.match(d, { status: 'unavailable', cacheTtlSeconds: 0 }, `refused as the IdP's problem (${d.status}: ${'reason' in d ? d.reason : ''})`);
  t.ok(log.lines().some((l) => l.event === 'idp-misconfigured'), 'the operator is told (idp-misconfigured)');
  t.notOk(log.lines().some((l) => l.event === 'token-check-error'), 'not logged as an internal error');
  t.match(await v.checker.check(await idp.mintJwt(alice)), { status: 'valid' }, 'tokens under the usable keys still validate');
  const twin = await v.checker.check(signed({ alg: 'RS256', kid: ownRsaKid, typ: 'at+jwt' }));
  t.match(twin, { status: 'unavailable' }, `signed by the short key under a shared kid: the IdP's problem (${twin.status})`);
  t.match(await v.checker.check(await idp.mintJwt(alice, { alg: 'RS256' })), { status: 'valid' }, 'the usable key under that kid still validates');
  t.notOk(log.lines().some((l) => l.event === 'token-check-error'), 'neither is logged as an internal error');
});
