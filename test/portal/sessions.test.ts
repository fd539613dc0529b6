// Portal sessions (src/portal/sessions.ts): bounded in time and in count; sign-ins in
// progress sealed in their cookie (src/portal/login-seal.ts): opened only intact, under our
// key and before their expiry; and cookies read without trusting them.
import t from 'tap';
import { PortalSessions } from '../../src/portal/sessions.js';
import { LOGIN_COOKIE, readCookie, SEALED_MAX_LENGTH, setCookie, SESSION_COOKIE } from '../../src/portal/cookies.js';
import { newSealKey, openLogin, sealLogin } from '../../src/portal/login-seal.js';
import { PORTAL_MAX_SESSIONS, PORTAL_MAX_SESSIONS_PER_USER } from '../../src/limits.js';

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

t.test('at most PORTAL_MAX_SESSIONS sessions: the oldest go', async (t) => {
  const s = new PortalSessions(60_000);
  const first = s.start('first@example.test');
  for (let i = 0; i < PORTAL_MAX_SESSIONS; i++) s.start(`u${i}@example.test`);
  t.equal(s.size.sessions, PORTAL_MAX_SESSIONS);
  t.notOk(s.get(first), 'the oldest was ended');
});

t.test('one user signing in over and over ends only their own oldest sessions, never another user\'s', async (t) => {
  const s = new PortalSessions(60_000);
  const alice = s.start('alice@example.test');
  const mallory = Array.from({ length: PORTAL_MAX_SESSIONS }, () => s.start('Mallory@example.test'));
  t.ok(s.get(alice), 'alice is still signed in');
  t.equal(s.size.sessions, 1 + PORTAL_MAX_SESSIONS_PER_USER, `mallory keeps ${PORTAL_MAX_SESSIONS_PER_USER}`);
  t.ok(mallory.slice(-PORTAL_MAX_SESSIONS_PER_USER).every((id) => s.get(id)), 'the newest of them');
  t.notOk(s.get(mallory[0]), 'not the oldest');
});

t.test('a sealed sign-in opens only intact, under its key, before its expiry', async (t) => {
  const key = newSealKey();
  const login = { state: 'S'.repeat(43), nonce: 'N'.repeat(43), verifier: 'V'.repeat(43) };
  const sealed = sealLogin(key, login, 2_000);
  t.match(sealed, /^[A-Za-z0-9_-]+$/);
  t.ok(sealed.length <= SEALED_MAX_LENGTH, `fits the cookie reader (${sealed.length})`);
  t.equal(readCookie(`${LOGIN_COOKIE}=${sealed}`, LOGIN_COOKIE, SEALED_MAX_LENGTH), sealed);
  t.notMatch(Buffer.from(sealed, 'base64url').toString('latin1'), /VVVV|SSSS/, 'the verifier and state are not readable');
  t.same(openLogin(key, sealed, 1_999), login);
  t.notOk(openLogin(key, sealed, 2_000), 'expired');
  t.notOk(openLogin(newSealKey(), sealed, 1_000), 'another key (another replica set, a restart)');
  const raw = Buffer.from(sealed, 'base64url');
  for (const at of [0, 12, raw.length - 1]) {
    const bad = Buffer.from(raw);
    bad[at] ^= 1;
    t.notOk(openLogin(key, bad.toString('base64url'), 1_000), `a bit flipped at ${at}`);
  }
  for (const v of [undefined, '', 'A'.repeat(16), 'A'.repeat(40), sealed.slice(0, -4)]) t.notOk(openLogin(key, v, 1_000), JSON.stringify(v));
  t.not(sealLogin(key, login, 2_000), sealed, 'a fresh IV each time');
});

t.test('cookies: ours or nothing, never a throw', async (t) => {
  const v = 'A'.repeat(43);
  t.equal(readCookie(`x=1; ${SESSION_COOKIE}=${v}`, SESSION_COOKIE), v);
  for (const h of [undefined, '', ';;;', `${SESSION_COOKIE}`, `${SESSION_COOKIE}=`, `${SESSION_COOKIE}=short`, `${SESSION_COOKIE}=${'a'.repeat(129)}`, `${SESSION_COOKIE}="${v}"`, `${SESSION_COOKIE}=${v}%00`]) {
    t.equal(readCookie(h, SESSION_COOKIE), undefined, JSON.stringify(h));
  }
  t.equal(setCookie(SESSION_COOKIE, v, 90.7), `${SESSION_COOKIE}=${v}; Path=/; Max-Age=90; HttpOnly; Secure; SameSite=Lax`);
});
