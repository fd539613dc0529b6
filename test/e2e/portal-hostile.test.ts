// Hostile requests to the portal listener (issue 19): oversized headers and bodies, broken
// cookies, forged or replayed callbacks, wrong methods, plain HTTP on the TLS port. Each
// gets a clear 4xx (or a closed connection), nothing is logged as an internal error, and
// the portal keeps serving. The portal here is a public client (PKCE alone, no secret).
import t from 'tap';
import net from 'node:net';
import tls from 'node:tls';
import { launchBrowser } from '../harness/browser.js';
import { signIn, startPortalStack } from '../harness/portal.js';
import { rawGet, rawHttps } from '../harness/raw-http.js';
import { RawClient } from '../harness/raw-imap.js';
import { IDP_TEST_PASSWORD } from '../harness/idp-login.js';

const { proxy, url, replica } = await startPortalStack(t);
const port = Number(new URL(url).port);
const req = (method: string, target: string, headers: Record<string, string> = {}, body = ''): string =>
  `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}${(body || method === 'POST') && !Object.keys(headers).includes('content-length') ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : ''}\r\n${body}`;
const status = async (request: string): Promise<number | undefined> => (await rawHttps(port, request)).statuses[0];
const form = { 'content-type': 'application/x-www-form-urlencoded' };

t.test('oversized headers: 431; an oversized body: 413, before it is read', async (t) => {
  t.equal(await status(rawGet('/', { 'x-filler': 'a'.repeat(16_384) })), 431);
  t.equal(await status(rawGet('/', { cookie: `__Host-omp-session=${'a'.repeat(9000)}` })), 431, 'a huge cookie');
  t.equal(await status(req('POST', '/create', { ...form, 'content-length': '100000' })), 413, 'announced');
  const chunked = `POST /create HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n2000\r\n${'a'.repeat(0x2000)}\r\n0\r\n\r\n`;
  t.equal(await status(chunked), 413, 'chunked past the cap');
  t.equal(await status(req('POST', '/create', { 'content-type': 'application/json' }, '{}')), 415, 'not a form');
});

t.test('malformed cookies are no session, never an error', async (t) => {
  for (const cookie of ['__Host-omp-session', '__Host-omp-session=', '=;;;=;', '__Host-omp-session=%%%', '__Host-omp-session="quoted"; x=y', `__Host-omp-session=${'A'.repeat(43)}`, '\u00ff\u00fe=\u00e9']) {
    const a = await rawHttps(port, Buffer.from(rawGet('/', { cookie }), 'latin1'));
    t.equal(a.statuses[0], 200, JSON.stringify(cookie));
    t.match(a.text, /id="sign-in"/, 'the sign-in page');
  }
  t.equal(await status(rawGet('/', { cookie: '__Host-omp-session=\u0001' })), 400, 'a control character: the HTTP parser\'s 400');
  t.equal(await status(req('POST', '/create', { ...form, cookie: `__Host-omp-session=${'A'.repeat(43)}` }, 'label=x&csrf=y')), 403, 'a POST with a made-up session');
});

t.test('forged callbacks: no sign-in in progress, a wrong state, a bad code, an IdP error', async (t) => {
  t.equal(await status(rawGet('/callback?code=abc&state=def')), 400, 'no login cookie');
  t.equal(await status(rawGet('/callback')), 400, 'nothing at all');
  // A real sign-in begun: its login cookie and state.
  const begun = await rawHttps(port, rawGet('/login'));
  t.equal(begun.statuses[0], 302);
  const login = /set-cookie: (__Host-omp-login=[A-Za-z0-9_-]+)/i.exec(begun.text)![1]!;
  const state = new URL(/location: (\S+)/i.exec(begun.text)![1]!).searchParams.get('state')!;
  t.equal(await status(rawGet('/callback?code=abc&state=wrong', { cookie: login })), 400, 'a wrong state');
  t.equal(await status(rawGet(`/callback?code=abc&state=${state}`, { cookie: login })), 400, 'the sign-in is used up by the try before');
  const again = await rawHttps(port, rawGet('/login'));
  const login2 = /set-cookie: (__Host-omp-login=[A-Za-z0-9_-]+)/i.exec(again.text)![1]!;
  const state2 = new URL(/location: (\S+)/i.exec(again.text)![1]!).searchParams.get('state')!;
  t.equal(await status(rawGet(`/callback?code=not-a-code&state=${state2}`, { cookie: login2 })), 400, 'a code the IdP never issued');
  const third = await rawHttps(port, rawGet('/login'));
  const login3 = /set-cookie: (__Host-omp-login=[A-Za-z0-9_-]+)/i.exec(third.text)![1]!;
  const state3 = new URL(/location: (\S+)/i.exec(third.text)![1]!).searchParams.get('state')!;
  t.equal(await status(rawGet(`/callback?error=access_denied&state=${state3}`, { cookie: login3 })), 403, 'the IdP said no');
});

t.test('forged codes past AUTH_FAIL_MAX_PER_IP: 429, the IdP not asked; the mail ports block the address too', async (t) => {
  const { proxy: tight, port: tightPort } = await replica({ AUTH_FAIL_MAX_PER_IP: '2', AUTH_FAIL_DELAY_MS: '0' });
  const forged = async (): Promise<{ status: number | undefined; text: string }> => {
    const begun = await rawHttps(tightPort, rawGet('/login'));
    const login = /set-cookie: (__Host-omp-login=[A-Za-z0-9_-]+)/i.exec(begun.text)![1]!;
    const state = new URL(/location: (\S+)/i.exec(begun.text)![1]!).searchParams.get('state')!;
    const a = await rawHttps(tightPort, rawGet(`/callback?code=never-issued&state=${state}`, { cookie: login }));
    return { status: a.statuses[0], text: a.text };
  };
  t.equal((await forged()).status, 400, 'first forged code: refused by the IdP');
  t.equal((await forged()).status, 400, 'second');
  const third = await forged();
  t.equal(third.status, 429, 'third: blocked');
  t.match(third.text, /retry-after: \d+/i);
  const exchanges = tight.logs().filter((l) => l.event === 'portal-signin-refused' && /code exchange failed/.test(String(l.reason)));
  t.equal(exchanges.length, 2, 'only two code exchanges were tried');
  const imap = await RawClient.connect(tight.imapPort);
  t.teardown(() => imap.close());
  t.match(await imap.line(), /^\* BYE .*Too many failed logins/, 'one limit per address: its IMAP connection is refused as well');
});

t.test('a replayed callback signs nobody in', async (t) => {
  const { browser, close } = await launchBrowser();
  t.teardown(close);
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  let callback = '';
  ctx.on('request', (r) => { if (r.url().startsWith(`${url}/callback`)) callback = r.url(); });
  const page = await signIn(ctx, url, 'alice@example.test');
  t.equal(await page.textContent('#user'), 'alice@example.test', 'the real one worked');
  const target = callback.slice(url.length);
  t.equal((await ctx.request.get(callback, { maxRedirects: 0 })).status(), 400, 'the same browser again: the sign-in is used up');
  const begun = await rawHttps(port, rawGet('/login'));
  const login = /set-cookie: (__Host-omp-login=[A-Za-z0-9_-]+)/i.exec(begun.text)![1]!;
  const replay = await rawHttps(port, rawGet(target, { cookie: login }));
  t.equal(replay.statuses[0], 400, 'another browser with a fresh sign-in: its state is not this one');
  t.notMatch(replay.text, /__Host-omp-session=[A-Za-z0-9_-]{20}/, 'no session cookie');
});

/**
 * `total` GET /login over `conns` keep-alive TLS connections, pipelined in batches: the 302s
 * counted. Bounded by `timeoutMs` (the test fails, it does not hang).
 */
async function floodLogins(total: number, conns: number, timeoutMs: number): Promise<number> {
  const one = `GET /login HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`;
  const BATCH = 250;
  const deadline = Date.now() + timeoutMs;
  const per = Math.ceil(total / conns);
  const counts = await Promise.all(Array.from({ length: conns }, () => new Promise<number>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
    let sent = 0;
    let got = 0;
    let tail = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`flood: ${got} of ${per} answered on one connection in time`)); }, Math.max(1, deadline - Date.now()));
    const more = () => {
      const n = Math.min(BATCH, per - sent);
      sent += n;
      s.write(one.repeat(n));
    };
    s.on('secureConnect', more);
    s.on('data', (d: Buffer) => {
      const text = tail + d.toString('latin1');
      got += (text.match(/HTTP\/1\.1 302 /g) ?? []).length;
      tail = text.slice(-20);
      if (got >= per) { clearTimeout(timer); s.destroy(); resolve(got); } else if (got === sent) more();
    });
    s.on('error', (err) => { clearTimeout(timer); reject(err); });
    s.on('close', () => { clearTimeout(timer); if (got < per) reject(new Error(`flood: connection closed after ${got} of ${per}`)); });
  })));
  return counts.reduce((a, b) => a + b, 0);
}

t.test('20,000 unauthenticated GET /login keep no state and push out no real sign-in begun before them', async (t) => {
  const { browser, close } = await launchBrowser();
  t.teardown(close);
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await ctx.newPage();
  await page.goto(`${url}/`);
  await page.click('#sign-in');
  await page.waitForSelector('#email', { timeout: 10_000 });
  // The browser is at the IdP now, its sign-in begun; 20,000 others begin meanwhile (twice
  // what a table of PORTAL_MAX_PENDING_LOGINS = 10,000 sign-ins in progress held).
  const started = Date.now();
  t.equal(await floodLogins(20_000, 8, 90_000), 20_000, 'every /login answered 302');
  t.comment(`20,000 GET /login in ${Date.now() - started} ms`);
  await page.fill('#email', 'alice@example.test');
  await page.fill('#password', IDP_TEST_PASSWORD);
  await Promise.all([page.waitForURL(`${url}/**`, { timeout: 15_000 }), page.click('#submit')]);
  await page.waitForLoadState('load');
  t.equal(await page.textContent('#user', { timeout: 5000 }).catch(async () => `not signed in: ${(await page.textContent('h1').catch(() => null)) ?? '?'}`), 'alice@example.test', 'the real sign-in finished');
});

t.test('a tampered, truncated or foreign sealed sign-in: 400, nothing logged as an error', async (t) => {
  const begun = await rawHttps(port, rawGet('/login'));
  const value = /set-cookie: __Host-omp-login=([A-Za-z0-9_-]+)/i.exec(begun.text)![1]!;
  const state = new URL(/location: (\S+)/i.exec(begun.text)![1]!).searchParams.get('state')!;
  t.ok(value.length > 128, 'the sign-in itself is in the cookie');
  t.notMatch(value, state, 'not readable in it');
  const raw = Buffer.from(value, 'base64url');
  const flipped = Buffer.from(raw);
  flipped[20] ^= 1;
  const foreign = Buffer.alloc(raw.length, 7); // same shape, sealed under no key of ours
  const before = proxy.logs().length;
  for (const [what, v] of [['tampered', flipped.toString('base64url')], ['foreign', foreign.toString('base64url')], ['truncated', value.slice(0, 100)], ['too long', value + 'A'.repeat(600)]] as const) {
    t.equal(await status(rawGet(`/callback?code=abc&state=${state}`, { cookie: `__Host-omp-login=${v}` })), 400, what);
  }
  t.equal(await status(rawGet(`/callback?code=abc&state=${state}`, { cookie: `__Host-omp-login=${value}` })), 400, 'the real one, with a code the IdP never issued');
  t.same(proxy.logs().slice(before).filter((l) => Number(l.level) >= 50 || l.level === 'error' || l.event === 'internal-error'), [], 'nothing at error level');
});

t.test('method confusion: 405 with Allow; unknown paths 404; malformed targets 400', async (t) => {
  const a = await rawHttps(port, req('DELETE', '/'));
  t.equal(a.statuses[0], 405);
  t.match(a.text, /allow: GET, HEAD/i);
  t.equal(await status(req('GET', '/create')), 405, 'GET of a change');
  t.equal(await status(req('POST', '/', form, 'x=1')), 405);
  t.equal(await status(req('POST', '/login', form, 'x=1')), 405);
  t.equal(await status(req('TRACE', '/')), 405);
  t.equal(await status(req('PUT', '/revoke', form, 'id=1')), 405);
  t.equal(await status(`CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n`), 405, 'not a tunnel');
  t.equal(await status(req('GET', '/admin')), 404);
  t.equal(await status(req('GET', '/%zz')), 400);
  t.equal(await status(req('GET', '//evil.example/login')), 404, 'a path, not an authority');
  t.equal(await status('GET / HTTP/1.1\r\n\r\n'), 400, 'no Host');
  t.equal(await status('BREW /pot HTCPCP/1.0\r\n\r\n'), 400, 'not HTTP');
});

t.test('plain HTTP or garbage on the TLS port: the connection ends, the portal goes on', async (t) => {
  for (const bytes of [rawGet('/'), '\x16\x03\x01\x00\x05hello', '\0'.repeat(4096)]) {
    await new Promise<void>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => s.end(bytes));
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      s.resume();
      setTimeout(() => { s.destroy(); resolve(); }, 5000).unref();
    });
  }
  t.pass('closed');
});

t.test('still serving, nothing logged as an internal error', async (t) => {
  t.equal(await status(rawGet('/')), 200);
  t.same(proxy.logs().filter((l) => l.event === 'internal-error'), []);
});
