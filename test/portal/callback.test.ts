// The sign-in callback. Failed portal sign-ins count against the client's address like failed mail logins
// (AUTH_FAIL_*): each forged or broken callback can cost a token request to the IdP and an info
// line, and a script can make one per GET /login. Past AUTH_FAIL_MAX_PER_IP the address gets
// 429 with Retry-After and the IdP is not asked; a sign-in that works forgets nothing of other
// addresses; outages (the IdP down) are not the client's failure and do not count.
import t from 'tap';
import { route, type PortalDeps } from '../../src/portal/routes.js';
import { PortalSessions } from '../../src/portal/sessions.js';
import { LOGIN_COOKIE, SESSION_COOKIE } from '../../src/portal/cookies.js';
import { sealLogin, type PendingLogin } from '../../src/portal/login-seal.js';
import type { Peer } from '../../src/net/peer.js';
import type { AppPasswordStore } from '../../src/auth/app-passwords.js';
import { LoginGuard } from '../../src/auth/login-guard.js';
import { createLogger } from '../../src/observability/logger.js';

const ORIGIN = 'https://portal.example.test';
const LOGIN: PendingLogin = { state: 'state-1234', nonce: 'nonce-1234', verifier: 'verifier-1234' };
const MAX_PER_IP = 3;

function peer(address: string): Peer {
  return { address, port: 50_000, localAddress: '127.0.0.1', localPort: 8443 };
}

/** `finish` decides what the IdP's token endpoint does; `exchanges` counts the requests to it. */
function deps(finish: () => Promise<string>): PortalDeps & { sessions: PortalSessions; exchanges: () => number; lines: Array<Record<string, unknown>> } {
  let exchanges = 0;
  const lines: Array<Record<string, unknown>> = [];
  const store: AppPasswordStore = {
    list: async () => [], create: async () => { throw new Error('not used here'); }, revoke: async () => 0,
    used: () => undefined, close: async () => undefined, onRevoked: () => () => undefined,
  };
  return {
    config: {
      listen: { host: '127.0.0.1', port: 0 }, origin: ORIGIN, redirectUri: `${ORIGIN}/callback`, clientId: 'portal',
      clientSecret: '', issuer: 'https://idp.example.test', scopes: ['openid'], sessionTtlMs: 60_000,
    },
    oidc: { begin: async () => { throw new Error('not used here'); }, finish: async () => { exchanges++; return finish(); } },
    decide: async () => ({ outcome: 'token', user: 'alice@example.test', issuer: 'default' }) as Awaited<ReturnType<PortalDeps['decide']>>,
    store,
    sessions: new PortalSessions(60_000),
    disabledReason: () => undefined,
    guard: new LoginGuard({ windowMs: 60_000, maxPerIp: MAX_PER_IP, maxPerUser: 100, blockMs: 60_000, delayMs: 0, delayMaxMs: 0, ipv6PrefixBits: 64 }),
    log: createLogger('debug', { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } }),
    exchanges: () => exchanges,
    lines,
  };
}

async function callback(d: ReturnType<typeof deps>, address: string, query = `state=${LOGIN.state}&code=forged`, extraCookie = '') {
  const cookie = `${LOGIN_COOKIE}=${sealLogin(await d.sessions.sealKey(), LOGIN, Date.now() + 60_000)}${extraCookie}`;
  return route({ method: 'GET', url: `/callback?${query}`, headers: { cookie } } as never, d, peer(address));
}

t.test('forged codes: the IdP is asked MAX_PER_IP times, then the address gets 429 with Retry-After', async (t) => {
  const d = deps(async () => { throw Object.assign(new Error('invalid_grant'), { code: 'OAUTH_RESPONSE_BODY_ERROR' }); });
  for (let i = 0; i < MAX_PER_IP; i++) t.equal((await callback(d, '192.0.2.7')).status, 400, `forged code ${i + 1}: refused as a failed exchange`);
  const blocked = await callback(d, '192.0.2.7');
  t.equal(blocked.status, 429, 'then blocked');
  t.match(blocked.headers?.['retry-after'], /^[1-9]\d*$/, 'with Retry-After in seconds');
  t.ok(blocked.cookies?.some((c) => c.startsWith(`${LOGIN_COOKIE}=`) && c.includes('Max-Age=0;')), 'the one-use sign-in cookie is cleared');
  t.equal(d.exchanges(), MAX_PER_IP, 'the blocked callback cost the IdP nothing');
  const refusedLines = d.lines.filter((l) => l.event === 'portal-signin-refused');
  t.equal(refusedLines.filter((l) => l.level === 30).length, MAX_PER_IP, 'one info line per counted failure');
  t.equal(refusedLines.filter((l) => l.level === 20 && /too many failed/.test(String(l.reason))).length, 1, 'the block itself at debug');
  t.equal(d.guard!.recentFailures('192.0.2.7'), MAX_PER_IP);
  t.equal((await callback(d, '192.0.2.8')).status, 400, 'another address is not blocked');
});

t.test('an IdP error forged into the callback and a user the policy refuses count too', async (t) => {
  const d = deps(async () => 'access-token');
  t.equal((await callback(d, '198.51.100.1', `state=${LOGIN.state}&error=access_denied`)).status, 403);
  t.equal(d.guard!.recentFailures('198.51.100.1'), 1, 'error=access_denied counted (no IdP request, but an info line)');
  const refusing = { ...d, decide: async () => ({ outcome: 'rejected', reason: 'policy: domain not allowed' }) as Awaited<ReturnType<PortalDeps['decide']>> };
  t.equal((await callback(refusing, '198.51.100.1')).status, 403);
  t.equal(d.guard!.recentFailures('198.51.100.1'), 2, 'a refused account counted');
});

t.test('not counted: a callback with no sign-in in progress, and the IdP down (503)', async (t) => {
  const d = deps(async () => { throw new TypeError('fetch failed'); });
  for (let i = 0; i < MAX_PER_IP + 2; i++) t.equal((await callback(d, '203.0.113.5')).status, 503, `IdP down ${i + 1}: 503`);
  const stale = await route({ method: 'GET', url: `/callback?state=${LOGIN.state}&code=x`, headers: {} } as never, d, peer('203.0.113.5'));
  t.equal(stale.status, 400, 'no sign-in cookie: 400');
  t.equal(d.guard!.recentFailures('203.0.113.5'), 0, 'none of these counted');
});

t.test('a sign-in that works is not slowed or blocked by an earlier failure below the limit', async (t) => {
  let fail = true;
  const d = deps(async () => { if (fail) throw new Error('invalid_grant'); return 'access-token'; });
  t.equal((await callback(d, '192.0.2.44')).status, 400);
  fail = false;
  t.equal((await callback(d, '192.0.2.44')).status, 303, 'signed in');
  t.ok(d.lines.some((l) => l.event === 'portal-signin' && l.remote === '192.0.2.44'));
});

t.test('a second sign-in in the same browser ends the session its cookie named (not left to time out)', async (t) => {
  const d = deps(async () => 'access-token');
  const first = await callback(d, '192.0.2.50');
  t.equal(first.status, 303);
  const sid = /^__Host-omp-session=([^;]+)/.exec(first.cookies!.find((c) => c.startsWith(`${SESSION_COOKIE}=`))!)![1]!;
  t.ok(await d.sessions.get(sid), 'the first session is live');
  const second = await callback(d, '192.0.2.50', undefined, `; ${SESSION_COOKIE}=${sid}`);
  t.equal(second.status, 303, 'signed in again');
  const sid2 = /^__Host-omp-session=([^;]+)/.exec(second.cookies!.find((c) => c.startsWith(`${SESSION_COOKIE}=`))!)![1]!;
  t.not(sid2, sid, 'a new session id');
  t.notOk(await d.sessions.get(sid), 'the session the browser held before is ended');
  t.ok(await d.sessions.get(sid2), 'the new one is live');
});
