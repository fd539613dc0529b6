// A first sign-in in the portal provisions the DMS account (PROVISION_ON_LOGIN) for the client
// as the listener saw it: both ends, whatever shape the listener's Peer has. A direct client's
// Peer is a SocketPeer (src/net/peer.ts) whose local end is read through prototype getters;
// the callback once built the provisioning client with { ...peer, tls: true }, a spread copies
// own properties only, and the client reached Dovecot's master login without a local end:
// imapIdLine() threw on quote(undefined), every provisioning sign-in was a 500, and the
// browser tests in test/e2e/portal.test.ts timed out waiting for the signed-in page.
import t, { type Test } from 'tap';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { route, type PortalDeps } from '../../src/portal/routes.js';
import { portalConnections, startPortalListener } from '../../src/portal/server.js';
import { PortalSessions } from '../../src/portal/sessions.js';
import { LOGIN_COOKIE } from '../../src/portal/cookies.js';
import { sealLogin, type PendingLogin } from '../../src/portal/login-seal.js';
import { SocketPeer, type Peer } from '../../src/net/peer.js';
import { imapIdLine } from '../../src/backend/imap-id.js';
import type { BackendClient } from '../../src/backend/login-result.js';
import type { AppPasswordStore } from '../../src/auth/app-passwords.js';
import { createLogger } from '../../src/observability/logger.js';
import { AccountCheck } from '../../src/backend/account-check.js';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import { LoginProvisioner } from '../../src/session/provision.js';
import { DmsConfigDir } from '../../src/state/dms/config-dir.js';
import { makeCerts } from '../harness/certs.js';

const ORIGIN = 'https://portal.example.test';
const LOGIN: PendingLogin = { state: 'state-1234', nonce: 'nonce-1234', verifier: 'verifier-1234' };
// backendClientOf() gives every login one object shape: the portal has no mail session id or client ID.
const NO_SESSION = { sessionId: undefined, idFields: undefined };

function deps(provisioned: BackendClient[]): PortalDeps & { sessions: PortalSessions } {
  const store: AppPasswordStore = {
    list: async () => [],
    create: async () => { throw new Error('not used here'); },
    revoke: async () => 0,
    used: () => undefined,
    close: async () => undefined,
    onRevoked: () => () => undefined,
  };
  return {
    config: {
      listen: { host: '127.0.0.1', port: 0 }, origin: ORIGIN, redirectUri: `${ORIGIN}/callback`, clientId: 'portal',
      clientSecret: '', issuer: 'https://idp.example.test', scopes: ['openid'], sessionTtlMs: 60_000,
    },
    oidc: { begin: async () => { throw new Error('not used here'); }, finish: async () => 'access-token' },
    decide: async () => ({ outcome: 'token', user: 'alice@example.test', issuer: 'default' }) as Awaited<ReturnType<PortalDeps['decide']>>,
    store,
    sessions: new PortalSessions(60_000),
    provision: async (_user, client) => {
      provisioned.push(client);
      // What provisioning does with it first: a master login to Dovecot, whose ID names the client.
      imapIdLine(client, false);
      return { kind: 'ready', mailbox: 'alice@example.test' };
    },
    disabledReason: () => undefined,
    log: createLogger('silent'),
  };
}

async function callbackCookie(d: PortalDeps): Promise<string> {
  return `${LOGIN_COOKIE}=${sealLogin(await d.sessions.sealKey(), LOGIN, Date.now() + 60_000)}`;
}

/** A connected TCP pair: the accepted end (what a listener hands on) and the client end. */
async function tcpPair(t: Test): Promise<{ accepted: net.Socket; client: net.Socket; port: number }> {
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const acceptedP = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect({ host: '127.0.0.1', port });
  t.teardown(() => client.destroy());
  const accepted = await acceptedP;
  t.teardown(() => accepted.destroy());
  await new Promise((r) => (client.connecting ? client.once('connect', r) : r(undefined)));
  return { accepted, client, port };
}

t.test('the callback provisions with both ends of a SocketPeer (getters, not own fields)', async (t) => {
  const { accepted, client, port } = await tcpPair(t);
  const peer: Peer = new SocketPeer(accepted);
  t.notOk(Object.hasOwn(peer, 'localAddress'), 'the fixture is the getter kind of Peer: no own localAddress');
  const provisioned: BackendClient[] = [];
  const d = deps(provisioned);
  const req = { method: 'GET', url: `/callback?state=${LOGIN.state}&code=c0de`, headers: { cookie: await callbackCookie(d) } };
  // A throw is what server.ts answers with a 500.
  const reply = await route(req as never, d, peer).catch((err: Error) => ({ status: 500, html: err.message }));
  t.equal(reply.status, 303, 'signed in, not a 500');
  t.equal(provisioned.length, 1, 'provisioned once');
  t.strictSame(provisioned[0], { address: '127.0.0.1', port: client.localPort, localAddress: '127.0.0.1', localPort: port, tls: true, ...NO_SESSION },
    'the client passed to provisioning has both ends');
});

// The whole chain as it runs: the portal listener (no PROXY protocol: the handler runs first
// and the peer is a SocketPeer), its TLS wrap and socket-to-peer map, the route, provisioning.
t.test('through the portal listener: provisioning gets the listener\'s own address and port', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'o2mp-portal-provision-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const certs = await makeCerts(dir);
  const context = tls.createSecureContext({ cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) });
  const provisioned: BackendClient[] = [];
  const d = deps(provisioned);
  const portal = await startPortalListener({ host: '127.0.0.1', port: 0 }, { context, SNICallback: (_n, cb) => cb(null, context) }, null, portalConnections({ maxConnectionsPerIp: 100, ipv6ClientPrefix: 64 }), d);
  t.teardown(() => portal.close());
  const cookie = await callbackCookie(d);
  const got = await new Promise<{ status: number; from: number }>((resolve, reject) => {
    const req = https.get({
      host: '127.0.0.1', port: portal.address().port, path: `/callback?state=${LOGIN.state}&code=c0de`, ca: certs.caPem, servername: 'localhost',
      headers: { cookie }, agent: false, timeout: 5000,
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, from: req.socket!.localPort! }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
  });
  t.equal(got.status, 303, 'signed in');
  t.equal(provisioned.length, 1, 'provisioned once');
  t.strictSame(provisioned[0], { address: '127.0.0.1', port: got.from, localAddress: '127.0.0.1', localPort: portal.address().port, tls: true, ...NO_SESSION },
    'the client passed to provisioning has both ends');
});

// The account check throws (a bug, not an answer; the master login here is a stub that throws
// at once): the sign-in gets the "try again" page an unreachable Dovecot gets, not a 500, and
// one error line names the user and the fault, never the token. Before, the provisioner's
// promise rejected and route() threw (server.ts's 500).
t.test('the account check throws during a first sign-in: 503 and "try again", the sign-in cookie cleared, one error line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'o2mp-portal-provision-fault-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { accepted } = await tcpPair(t);
  const logged: Array<Record<string, unknown>> = [];
  const log = createLogger('info', { write: (s: string) => { logged.push(JSON.parse(s) as Record<string, unknown>); } });
  const accounts = new AccountCheck(() => { throw new TypeError('injected: the master login threw'); });
  const provisioner = new LoginProvisioner(new DmsConfigDir(dir), accounts, 5000, log, new DisabledUsers(), { first: 10, interval: 10 });
  const d: PortalDeps & { sessions: PortalSessions } = { ...deps([]), log, provision: (user, client) => provisioner.ensure(user, client) };
  const req = { method: 'GET', url: `/callback?state=${LOGIN.state}&code=c0de`, headers: { cookie: await callbackCookie(d) } };
  const reply = await route(req as never, d, new SocketPeer(accepted)).catch((err: Error) => ({ status: 500, html: err.message, cookies: [] }));
  t.equal(reply.status, 503, 'the answer of an unreachable backend, not a 500');
  t.match(reply.html, /Try again/);
  t.ok(reply.cookies?.some((c) => c.startsWith(`${LOGIN_COOKIE}=`) && c.includes('Max-Age=0;')), 'the one-use sign-in cookie is cleared');
  const errors = logged.filter((l) => (l.level as number) >= 50);
  t.equal(errors.length, 1, 'one error line');
  t.match(errors[0], { event: 'provision-failed', user: 'alice@example.test', reason: /injected: the master login threw/ });
  t.notOk(JSON.stringify(logged).includes('access-token'), 'no token in any line');
});
