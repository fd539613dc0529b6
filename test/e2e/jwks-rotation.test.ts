// Issue 15 end to end: the real IdP (oidc-provider) rotates its signing keys after the
// proxy's first JWKS fetch, and a client logs in with a token signed by the new key. It must
// never get AUTHENTICATIONFAILED / 535 for that (its user would be asked for a password):
// while the proxy may not refetch the JWKS it gets NO [UNAVAILABLE] / 454 4.7.0 and retries,
// and when the refetch is due within OAUTH2_TIMEOUT_MS the login waits for it and succeeds.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { startBackendAndIdp } from '../harness/stack.js';
import { DEFAULT_AUDIENCE } from '../harness/idp.js';
import { startProxy, type TestProxy } from '../harness/proxy.js';
import { xoauth2Login } from '../harness/raw-imap.js';
import { RawSmtp, xoauth2Ir } from '../harness/raw-smtp.js';
import { atClaims, foreignKey } from '../auth/helpers.js';

const { backend, idp } = await startBackendAndIdp(t);
const [alice, bob] = backend.users as [typeof backend.users[0], typeof backend.users[0]];

async function localProxy(cooldownSeconds: number): Promise<{ p: TestProxy; ca: string }> {
  const p = await startProxy({
    backend, userinfoUrl: idp.userinfoUrl,
    env: {
      OAUTH2_INTROSPECTION_MODE: 'local', OAUTH2_ISSUER: idp.issuer, OAUTH2_AUDIENCE: DEFAULT_AUDIENCE,
      OAUTH2_JWKS_COOLDOWN_SECONDS: String(cooldownSeconds), OAUTH2_TIMEOUT_MS: '5000', OAUTH2_NEGATIVE_CACHE_SECONDS: '0',
    },
  });
  t.teardown(() => p.stop());
  return { p, ca: readFileSync(p.certs.caFile, 'utf8') };
}

/** AUTH XOAUTH2 on a fresh submissions (465) connection: the reply code and text. */
async function smtpLogin(p: TestProxy, ca: string, email: string, token: string): Promise<{ code: number; text: string }> {
  const c = await RawSmtp.connect(p.submissionsPort, { implicitTls: true, ca });
  try {
    await c.reply();
    await c.ehlo();
    const r = await c.command(`AUTH XOAUTH2 ${xoauth2Ir(email, token)}`, 10_000);
    return { code: r.code, text: r.text };
  } finally {
    c.close();
  }
}

t.test('keys rotated just after the first fetch, cooldown 1 h: retry (UNAVAILABLE / 454), no JWKS fetch', async (t) => {
  const { p, ca } = await localProxy(3600);
  const before = await idp.mintJwt(alice.email);
  t.match(await xoauth2Login(p.imapsPort, ca, alice.email, before), /^a1 OK /, 'first login: the proxy fetches the JWKS');
  await idp.rotateKeys();
  const fetches = idp.counts.jwks;

  t.match(await xoauth2Login(p.imapsPort, ca, alice.email, await idp.mintJwt(alice.email)), /^a1 NO \[UNAVAILABLE\] /, 'IMAP: retry later, not AUTHENTICATIONFAILED');
  const smtp = await smtpLogin(p, ca, bob.email, await idp.mintJwt(bob.email, { alg: 'ES256' }));
  t.equal(smtp.code, 454, `SMTP: 454, not 535 (${smtp.code} ${smtp.text})`);
  t.match(smtp.text, /^4\.7\.0 /);
  t.equal(idp.counts.jwks, fetches, 'no JWKS fetch inside the cooldown');
  t.match(await xoauth2Login(p.imapsPort, ca, alice.email, before), /^a1 OK /, 'a token signed before the rotation still logs in');
  t.notOk(p.logs().some((l) => l.event === 'auth-failed'), 'no auth-failed line (Fail2Ban would count it)');
});

t.test('keys rotated, refetch due within OAUTH2_TIMEOUT_MS: the logins wait for it and succeed', async (t) => {
  const { p, ca } = await localProxy(2);
  t.match(await xoauth2Login(p.imapsPort, ca, alice.email, await idp.mintJwt(alice.email)), /^a1 OK /);
  await idp.rotateKeys();
  const fetches = idp.counts.jwks;
  const [imap, smtp] = await Promise.all([
    idp.mintJwt(alice.email).then((tok) => xoauth2Login(p.imapsPort, ca, alice.email, tok)),
    idp.mintJwt(bob.email, { alg: 'ES256' }).then((tok) => smtpLogin(p, ca, bob.email, tok)),
  ]);
  t.match(imap, /^a1 OK /, 'IMAP login with the new key');
  t.equal(smtp.code, 235, `SMTP login with the new key (${smtp.code} ${smtp.text})`);
  t.equal(idp.counts.jwks, fetches + 1, 'one JWKS fetch for both');

  // A kid the IdP never published is a bad credential once a fetch after the login began lacks it.
  const forged = await (await foreignKey()).sign(atClaims(idp, alice.email));
  t.match(await xoauth2Login(p.imapsPort, ca, alice.email, forged), /^a1 NO \[AUTHENTICATIONFAILED\] /, 'forged kid: AUTHENTICATIONFAILED after the refetch');
});
