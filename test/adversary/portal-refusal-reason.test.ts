// portal-signin-refused says why (docs/portal.md: "with the reason"), yet a failed code
// exchange was logged with openid-client's wrapper text only: a wrong PORTAL_CLIENT_SECRET
// (the IdP's `invalid_client`) read "server responded with an error in the response body",
// and an authorization response with another issuer's `iss` (RFC 9207 mix-up), a missing
// `iss`, or an ID token with the wrong audience or nonce all read "invalid response
// encountered". The operator setting the portal up, or looking into a mix-up attempt, had
// nothing to go on: the OAuth error code and the check that failed (the error's cause) are
// what the line must carry.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { launchBrowser } from '../harness/browser.js';
import { signIn, startPortalStack } from '../harness/portal.js';
import { rawGet, rawHttps } from '../harness/raw-http.js';

const secret = randomBytes(16).toString('hex');
// Registered at the IdP with `secret`; the proxy is given another one.
const { proxy, url, idp } = await startPortalStack(t, { clientSecret: secret, env: { PORTAL_CLIENT_SECRET: `${secret}-not` } });
const port = Number(new URL(url).port);
const refusals = (from: number) => proxy.logs().slice(from).filter((l) => l.event === 'portal-signin-refused').map((l) => String(l.reason));

t.test('a wrong client secret: the line names the IdP\'s invalid_client', async (t) => {
  const { browser, close } = await launchBrowser();
  t.teardown(close);
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  const before = proxy.logs().length;
  const page = await signIn(ctx, url, 'alice@example.test');
  t.equal(await page.textContent('h1'), 'Sign-in failed');
  const reasons = refusals(before);
  t.equal(reasons.length, 1, JSON.stringify(reasons));
  t.match(reasons[0], /invalid_client/, 'the OAuth error code is in the reason');
  t.notMatch(reasons[0], secret, 'never the secret');
});

t.test('an authorization response from another issuer (iss mix-up): the line says the iss check failed', async (t) => {
  const begun = await rawHttps(port, rawGet('/login'));
  const login = /set-cookie: (__Host-omp-login=[A-Za-z0-9_-]+)/i.exec(begun.text)![1]!;
  const state = new URL(/location: (\S+)/i.exec(begun.text)![1]!).searchParams.get('state')!;
  const before = proxy.logs().length;
  const evil = encodeURIComponent('https://idp.evil.example/');
  const a = await rawHttps(port, rawGet(`/callback?code=abc&state=${state}&iss=${evil}`, { cookie: login }));
  t.equal(a.statuses[0], 400, 'refused');
  const reasons = refusals(before);
  t.equal(reasons.length, 1, JSON.stringify(reasons));
  t.match(reasons[0], /"iss"|issuer/, `the failed check is named: ${reasons[0]}`);
  t.notMatch(reasons[0], /^code exchange failed \(OAUTH_INVALID_RESPONSE: invalid response encountered\)$/, 'not the wrapper text alone');
  t.ok(idp.issuer, 'the real issuer is another one');
});
