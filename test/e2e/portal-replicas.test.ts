// The portal on two replicas sharing one store (SHARED_STATE_URL, a real redis-server), no
// sticky routing: a session made on A serves on B, a sign-out on B ends it on A, a sign-in
// begun on A finishes on B (the seal key is shared), the store keeps no cookie value, and
// with the store down the portal answers a 503 page while token logins over IMAP go on.
import t from 'tap';
import { ImapFlow } from 'imapflow';
import { launchBrowser } from '../harness/browser.js';
import { signIn, startPortalStack } from '../harness/portal.js';
import { rawGet, rawHttps } from '../harness/raw-http.js';
import { startRedis } from '../harness/redis.js';
import { IDP_TEST_PASSWORD } from '../harness/idp-login.js';

const redis = await startRedis();
t.teardown(() => redis.stop());
const stack = await startPortalStack(t, { env: { SHARED_STATE_URL: redis.url } });
const { url, proxy: a } = stack;
const portA = Number(new URL(url).port);
const { proxy: b, port: portB } = await stack.replica();
const { browser, close } = await launchBrowser();
t.teardown(close);

const SESSION = /set-cookie: __Host-omp-session=([A-Za-z0-9_-]{43});/i;
/** A request as the balancer would pass it on: Origin is PORTAL_URL whichever replica answers. */
const get = (port: number, target: string, cookie: string) => rawHttps(port, rawGet(target, { cookie }));
const post = (port: number, target: string, cookie: string, body: string) => rawHttps(port, `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nOrigin: ${url}\r\nCookie: ${cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);

t.test('signed in on A: the session serves on B; signed out on B: A refuses it', async (t) => {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  t.teardown(() => ctx.close());
  const page = await signIn(ctx, url, 'alice@example.test');
  t.equal(await page.textContent('#user'), 'alice@example.test', 'signed in on A');
  const sid = (await ctx.cookies()).find((c) => c.name === '__Host-omp-session')!.value;
  const cookie = `__Host-omp-session=${sid}`;
  const csrf = (await page.getAttribute('input[name=csrf]', 'value'))!;
  t.notMatch(await redis.command('KEYS *'), sid, 'the store holds no cookie value');
  const onB = await get(portB, '/', cookie);
  t.equal(onB.statuses[0], 200);
  t.match(onB.text, /id="user">alice@example\.test</, 'B knows the session');
  const made = await post(portB, '/create', cookie, `label=Phone&csrf=${encodeURIComponent(csrf)}`);
  t.equal(made.statuses[0], 200, 'B takes the CSRF token A issued');
  t.equal((await post(portB, '/logout', cookie, `csrf=${encodeURIComponent(csrf)}`)).statuses[0], 303, 'signed out on B');
  const onA = await get(portA, '/', cookie);
  t.equal(onA.statuses[0], 200);
  t.match(onA.text, /id="sign-in"/, 'A shows the sign-in page');
  t.equal((await post(portA, '/create', cookie, `label=x&csrf=${encodeURIComponent(csrf)}`)).statuses[0], 403, 'A refuses a change');
});

t.test('a sign-in begun on A finishes on B', async (t) => {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  t.teardown(() => ctx.close());
  let callback = '';
  // The balancer sends the IdP's redirect back to B this time. A route sees no followed
  // redirect, so the IdP's answer to the login form is followed here, up to the callback.
  await ctx.route((u) => u.pathname.endsWith('/login') && u.origin === new URL(stack.idp.issuer).origin, async (r) => {
    let answer = await r.fetch({ maxRedirects: 0 });
    for (let hop = 0; hop < 10; hop++) {
      const location = new URL(answer.headers()['location'] ?? '/', r.request().url()).href;
      if (location.startsWith(`${url}/callback`)) { callback = location; break; }
      answer = await ctx.request.get(location, { maxRedirects: 0 });
    }
    return r.fulfill({ status: 200, contentType: 'text/plain', body: 'caught' });
  });
  const page = await ctx.newPage();
  await page.goto(`${url}/`);
  await page.click('#sign-in');
  await page.waitForSelector('#email', { timeout: 10_000 });
  await page.fill('#email', 'bob@example.test');
  await page.fill('#password', IDP_TEST_PASSWORD);
  await page.click('#submit');
  for (let i = 0; i < 100 && !callback; i++) await new Promise((r) => setTimeout(r, 100));
  t.ok(callback, 'the IdP sent the browser back');
  const login = (await ctx.cookies()).find((c) => c.name === '__Host-omp-login')!.value;
  const done = await get(portB, callback.slice(url.length), `__Host-omp-login=${login}`);
  t.equal(done.statuses[0], 303, 'B finished it');
  const sid = SESSION.exec(done.text)?.[1];
  t.ok(sid, 'a session cookie');
  t.match((await get(portA, '/', `__Host-omp-session=${sid}`)).text, /id="user">bob@example\.test</, 'and A serves that session');
});

t.test('store down: a 503 page from the portal, token logins over IMAP go on; back: the portal serves again', async (t) => {
  await redis.kill();
  const begin = await get(portA, '/login', 'x=y');
  t.equal(begin.statuses[0], 503, 'no sign-in without the shared seal key');
  t.match(begin.text, /session store/);
  t.equal((await get(portB, '/', `__Host-omp-session=${'A'.repeat(43)}`)).statuses[0], 503, 'no session answer');
  t.equal((await get(portB, '/', 'x=y')).statuses[0], 200, 'the sign-in page needs no store');
  const imap = new ImapFlow({
    host: '127.0.0.1', port: a.imapsPort, secure: true, tls: { ca: stack.ca, servername: 'localhost' },
    auth: { user: 'alice@example.test', accessToken: await stack.idp.mintToken('alice@example.test') }, logger: false, disableAutoIdle: true,
  });
  await imap.connect();
  t.ok(imap.authenticated, 'a token login over IMAP with the store down');
  await imap.logout();
  await redis.restart();
  let answer = 0;
  for (let i = 0; i < 50 && answer !== 302; i++) {
    answer = (await get(portA, '/login', 'x=y')).statuses[0] ?? 0;
    if (answer !== 302) await new Promise((r) => setTimeout(r, 200));
  }
  t.equal(answer, 302, 'sign-ins begin again once the store is back');
  for (const p of [a, b]) t.same(p.logs().filter((l) => l.event === 'internal-error'), [], 'nothing logged as an internal error');
});
