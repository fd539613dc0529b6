// Portal sessions and sign-ins in progress (src/portal/sessions.ts): bounded in time and in
// count, a sign-in taken once, and cookies read without trusting them.
import t from 'tap';
import { PortalSessions } from '../../src/portal/sessions.js';
import { readCookie, setCookie, SESSION_COOKIE } from '../../src/portal/cookies.js';
import { PORTAL_LOGIN_TTL_MS, PORTAL_MAX_PENDING_LOGINS, PORTAL_MAX_SESSIONS } from '../../src/limits.js';

const clock = () => {
  let now = 1_000_000;
  return { now: () => now, tick: (ms: number) => { now += ms; } };
};

t.test('a session ends after its time, and after a quarter of it unused', async (t) => {
  const c = clock();
  const s = new PortalSessions(60_000, c.now);
  const id = s.start('Alice@Example.test');
  t.equal(s.get(id)?.user, 'alice@example.test', 'ASCII-lowered like every login');
  for (let i = 0; i < 4; i++) { c.tick(14_000); t.ok(s.get(id), `used within the idle time (${i})`); }
  c.tick(5_000);
  t.notOk(s.get(id), 'past the absolute end, even though in use');
  const idle = s.start('bob@example.test');
  c.tick(15_001);
  t.notOk(s.get(idle), 'idle for more than a quarter');
  t.notOk(s.get(undefined));
  t.notOk(s.get('made-up-id-made-up-id'));
});

t.test('sign-out and SCIM end sessions; the CSRF token is per session', async (t) => {
  const s = new PortalSessions(60_000);
  const a = s.start('alice@example.test');
  const a2 = s.start('alice@example.test');
  const b = s.start('bob@example.test');
  t.not(s.get(a)!.csrf, s.get(b)!.csrf);
  s.end(a);
  t.notOk(s.get(a));
  s.endUser('ALICE@example.test');
  t.notOk(s.get(a2), 'every session of the user');
  t.ok(s.get(b), 'others stay');
});

t.test('at most PORTAL_MAX_SESSIONS sessions and PORTAL_MAX_PENDING_LOGINS sign-ins: the oldest go', async (t) => {
  const s = new PortalSessions(60_000);
  const first = s.start('first@example.test');
  for (let i = 0; i < PORTAL_MAX_SESSIONS; i++) s.start(`u${i}@example.test`);
  t.equal(s.size.sessions, PORTAL_MAX_SESSIONS);
  t.notOk(s.get(first), 'the oldest was ended');
  const login = { state: 's', nonce: 'n', verifier: 'v' };
  const oldest = s.begin(login);
  for (let i = 0; i < PORTAL_MAX_PENDING_LOGINS; i++) s.begin(login);
  t.equal(s.size.pending, PORTAL_MAX_PENDING_LOGINS);
  t.notOk(s.take(oldest));
});

t.test('a sign-in is taken once, and only within PORTAL_LOGIN_TTL_MS', async (t) => {
  const c = clock();
  const s = new PortalSessions(60_000, c.now);
  const id = s.begin({ state: 's', nonce: 'n', verifier: 'v' });
  t.same(s.take(id), { state: 's', nonce: 'n', verifier: 'v', createdAt: 1_000_000 });
  t.notOk(s.take(id), 'a replay finds nothing');
  const late = s.begin({ state: 's', nonce: 'n', verifier: 'v' });
  c.tick(PORTAL_LOGIN_TTL_MS + 1);
  t.notOk(s.take(late), 'too late');
});

t.test('cookies: ours or nothing, never a throw', async (t) => {
  const v = 'A'.repeat(43);
  t.equal(readCookie(`x=1; ${SESSION_COOKIE}=${v}`, SESSION_COOKIE), v);
  for (const h of [undefined, '', ';;;', `${SESSION_COOKIE}`, `${SESSION_COOKIE}=`, `${SESSION_COOKIE}=short`, `${SESSION_COOKIE}=${'a'.repeat(129)}`, `${SESSION_COOKIE}="${v}"`, `${SESSION_COOKIE}=${v}%00`]) {
    t.equal(readCookie(h, SESSION_COOKIE), undefined, JSON.stringify(h));
  }
  t.equal(setCookie(SESSION_COOKIE, v, 90.7), `${SESSION_COOKIE}=${v}; Path=/; Max-Age=90; HttpOnly; Secure; SameSite=Lax`);
});
