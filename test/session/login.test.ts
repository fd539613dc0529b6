// The one login flow (src/session/login.ts) with plain values: a token decider, a backend
// target and a SASL wire that are functions. Every outcome kind a protocol words, the
// failure budget, what reaches the backend, and the events Fail2Ban and metrics read.
import t from 'tap';
import { Duplex } from 'node:stream';
import type net from 'node:net';
import { Authenticator } from '../../src/auth/authenticator.js';
import { LoginGuard } from '../../src/auth/login-guard.js';
import type { SaslCredentials } from '../../src/auth/sasl/index.js';
import type { BackendClient, BackendLoginResult, BackendUser } from '../../src/backend/login-result.js';
import { SessionLogin, type LoginParts } from '../../src/session/login.js';
import type { SaslWire } from '../../src/session/sasl-exchange.js';
import { MAX_AUTH_FAILURES } from '../../src/limits.js';
import { captureLog } from '../auth/helpers.js';

const CLIENT: BackendClient = { address: '192.0.2.7', port: 40000, localAddress: '127.0.0.1', localPort: 143, tls: true };
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const bearer = (user: string, token: string): string => b64(`n,a=${user},\x01auth=Bearer ${token}\x01\x01`);

function socket(): net.Socket {
  return new Duplex({ read() {}, write(_c, _e, cb) { cb(); } }) as unknown as net.Socket;
}

interface Rig {
  login: SessionLogin<{ capabilities: string }>;
  asked: Array<{ who: BackendUser; client: BackendClient }>;
  events: () => Array<Record<string, unknown>>;
  state: { gone: boolean; loggedIn: number };
}

function rig(opts: {
  tokens?: Record<string, string | 'down'>;
  backend?: (who: BackendUser) => BackendLoginResult<{ capabilities: string }>;
  guard?: LoginGuard;
} = {}): Rig {
  const tokens = opts.tokens ?? { good: 'alice@example.test' };
  const authenticator = new Authenticator({
    check: async (token: string) => {
      const user = tokens[token];
      if (user === 'down') return { status: 'unavailable', reason: 'IdP down', cached: false, cacheTtlSeconds: 0 };
      if (!user) return { status: 'invalid', reason: 'token not active', cached: false, cacheTtlSeconds: 0 };
      return { status: 'valid', user, claim: 'email', issuer: 'https://idp.test', mode: 'local', evidence: {}, cached: false, cacheTtlSeconds: 0 };
    },
  } as never);
  const asked: Rig['asked'] = [];
  const parts: LoginParts<{ capabilities: string }> = {
    authenticator,
    guard: opts.guard ?? new LoginGuard({ windowMs: 60_000, maxPerIp: 100, maxPerUser: 100, blockMs: 60_000, delayMs: 0, delayMaxMs: 0, ipv6PrefixBits: 64 }),
    backend: async (who, client) => {
      asked.push({ who, client });
      return opts.backend?.(who) ?? { ok: true, socket: socket(), leftover: Buffer.alloc(0), loginMs: 3, capabilities: 'IMAP4rev1' };
    },
  };
  const log = captureLog();
  const state = { gone: false, loggedIn: 0 };
  const login = new SessionLogin(parts, {
    log: log.logger,
    backendClient: () => CLIENT,
    gone: () => state.gone,
    loggedIn: () => { state.loggedIn += 1; },
  });
  return { login, asked, state, events: () => log.lines().filter((l) => typeof l.event === 'string') };
}

/** A wire that answers each challenge from `responses` (null = the client cancels) and records the challenges. */
function wire(responses: Array<string | null>): SaslWire & { challenges: string[] } {
  const challenges: string[] = [];
  return {
    challenges,
    challenge: async (c) => {
      challenges.push(c);
      if (!responses.length) throw new Error('no response left');
      return responses.shift()!;
    },
  };
}

t.test('a valid token: a master login for the token\'s user, then ok with the backend socket', async (t) => {
  const r = rig();
  const o = await r.login.authenticate('OAUTHBEARER', bearer('alice@example.test', 'good'), wire([]));
  t.equal(o.kind, 'ok');
  if (o.kind === 'ok') t.same([o.user, o.mech, o.backend.capabilities], ['alice@example.test', 'OAUTHBEARER', 'IMAP4rev1']);
  t.same(r.asked.map((a) => a.who), [{ kind: 'vouched', user: 'alice@example.test' }], 'vouched: no credential of the client reaches the backend');
  t.equal(r.asked[0]!.client, CLIENT, 'for this client');
  t.equal(r.state.loggedIn, 1, 'the connection limits hear of the login');
  // Issue 21: the protocol writes the client's OK as soon as the outcome is known; the log
  // line (and metrics, guard bookkeeping) follow in the next turn, off the critical path.
  t.same(r.events(), [], 'nothing logged before the protocol has answered');
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(r.events().length, 1, 'one line: the login');
  t.match(r.events(), [{ event: 'login', user: 'alice@example.test', mech: 'OAUTHBEARER', via: 'token' }]);
});

t.test('a token for another user, or an invalid one: error challenge, auth-failed, no backend login', async (t) => {
  const r = rig();
  const w = wire(['AQ==', '*']);
  const o1 = await r.login.authenticate('OAUTHBEARER', bearer('bob@example.test', 'good'), w);
  t.same(o1, { kind: 'rejected', last: false });
  const o2 = await r.login.authenticate('XOAUTH2', b64('user=alice@example.test\x01auth=Bearer bad\x01\x01'), w);
  t.same(o2, { kind: 'rejected', last: false });
  t.equal(w.challenges.length, 2, 'one RFC 7628 §3.2.2 error challenge per rejected token');
  t.match(JSON.parse(Buffer.from(w.challenges[0]!, 'base64').toString()), { status: 'invalid_token' });
  t.match(JSON.parse(Buffer.from(w.challenges[1]!, 'base64').toString()), { status: '401' }, 'XOAUTH2 form');
  t.same(r.asked, [], 'the backend is never asked');
  t.equal(r.events().length, 2, 'two lines: the two failures, nothing else');
  t.match(r.events(), [{ event: 'auth-failed', user: 'bob@example.test' }, { event: 'auth-failed', user: 'alice@example.test' }]);
  t.notMatch(JSON.stringify(r.events()), /good|bad/, 'no token in any log line');
});

t.test(`the failure budget: the ${MAX_AUTH_FAILURES}rd failure on a connection is the last`, async (t) => {
  const r = rig();
  const kinds = [];
  for (let i = 0; i < MAX_AUTH_FAILURES; i++) kinds.push(await r.login.fail('LOGIN', 'malformed LOGIN arguments'));
  t.same(kinds.map((o) => o.kind === 'rejected' && o.last), [false, false, true]);
});

t.test('passwords go to the backend as given; its refusal is a failure, its silence is not', async (t) => {
  let answer: BackendLoginResult<{ capabilities: string }> = { ok: false, kind: 'rejected', reason: 'NO [AUTHENTICATIONFAILED]' };
  const r = rig({ backend: () => answer });
  const creds: SaslCredentials = { kind: 'password', mechanism: 'PLAIN', authzid: undefined, username: 'alice@example.test', password: 'pw' };
  t.same(await r.login.login(creds), { kind: 'rejected', last: false });
  t.same(r.asked[0]!.who, { kind: 'password', authzid: undefined, username: 'alice@example.test', password: 'pw' });
  answer = { ok: false, kind: 'unavailable', reason: 'timed out', undecided: true };
  t.same(await r.login.login(creds), { kind: 'rejected', last: false }, 'no verdict after a recent failure from this client counts as one (Dovecot\'s penalty)');
  const fresh = rig({ backend: () => ({ ok: false, kind: 'unavailable', reason: 'connection refused' }) });
  t.same(await fresh.login.login(creds), { kind: 'backend-unavailable' });
  t.equal(fresh.events().length, 1);
  t.match(fresh.events(), [{ event: 'backend-unavailable', user: 'alice@example.test' }]);
});

t.test('the IdP down: unavailable, logged as such, not a failure', async (t) => {
  const r = rig({ tokens: { t1: 'down' } });
  t.same(await r.login.authenticate('OAUTHBEARER', bearer('alice@example.test', 't1'), wire([])), { kind: 'unavailable' });
  t.equal(r.events().length, 1);
  t.match(r.events(), [{ event: 'auth-unavailable' }]);
  t.notOk(r.events().some((e) => e.event === 'auth-failed'));
});

t.test('exchange outcomes: cancel, malformed base64, a malformed mechanism response, LOGIN in two steps', async (t) => {
  const r = rig();
  t.same(await r.login.authenticate('PLAIN', undefined, wire([null])), { kind: 'cancelled' });
  t.same(await r.login.authenticate('PLAIN', 'not base64!', wire([])), { kind: 'malformed' });
  t.same(await r.login.authenticate('PLAIN', b64('no-nul-here'), wire([])), { kind: 'rejected', last: false }, 'a PLAIN response without NULs is a failed login');
  const w = wire([b64('alice@example.test'), b64('secret')]);
  t.equal((await r.login.authenticate('LOGIN', undefined, w)).kind, 'ok');
  t.same(w.challenges, ['VXNlcm5hbWU6', 'UGFzc3dvcmQ6'], 'Username: then Password:');
  t.same(r.asked.at(-1)!.who, { kind: 'password', authzid: undefined, username: 'alice@example.test', password: 'secret' });
});

t.test('a blocked client: its credentials are not even tried', async (t) => {
  const guard = new LoginGuard({ windowMs: 60_000, maxPerIp: 1, maxPerUser: 100, blockMs: 60_000, delayMs: 0, delayMaxMs: 0, ipv6PrefixBits: 64 });
  const r = rig({ guard });
  await r.login.fail('PLAIN', 'wrong');
  t.same(await r.login.authenticate('OAUTHBEARER', bearer('alice@example.test', 'good'), wire([])), { kind: 'blocked' });
  t.same(r.asked, []);
  t.match(r.events().at(-1), { event: 'auth-failed', reason: /ip blocked/ });
});

t.test('a client gone before the backend login: no backend login, nothing to say', async (t) => {
  const r = rig();
  const w: SaslWire = { challenge: async () => { r.state.gone = true; return b64('\0alice@example.test\0pw'); } };
  t.same(await r.login.authenticate('PLAIN', undefined, w), { kind: 'gone' });
  t.same(r.asked, [], 'the backend is not asked for a client that left');
  t.equal(r.state.loggedIn, 0);
});

t.test('a client gone while the backend logged it in: the backend socket is closed', async (t) => {
  const s = socket();
  const r = rig({ backend: () => { r.state.gone = true; return { ok: true, socket: s, leftover: Buffer.alloc(0), loginMs: 1, capabilities: '' }; } });
  t.same(await r.login.authenticate('OAUTHBEARER', bearer('alice@example.test', 'good'), wire([])), { kind: 'gone' });
  t.ok(s.destroyed, 'not leaked');
  t.notOk(r.events().some((e) => e.event === 'login'), 'no login logged');
});
