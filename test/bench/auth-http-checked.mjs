// nginx's auth_http server as an operator would run it in production (see nginx.ts): it checks
// the token, not a map. Per request it does the login work this proxy does in process, with
// the proxy's own modules (its compiled dist/src/, or src/ under tsx), so the two setups do the
// same work in the same code and the CPU figures differ only where the designs do:
//   - the failure guard asked for Client-IP and the user (AUTH_FAIL_*), failures counted;
//   - the token decided by the proxy's Authenticator: SHA-256 cache key, the cache, the IdP on
//     a miss (OAUTH2_*, the proxy's bench settings), the user named checked against the token's;
//   - the proxy's `login` line (pino, batched stdout) and metrics, on a per-request child logger
//     as the proxy makes per session; failures as the proxy's `auth-failed` line.
// nginx does not tell its auth server when a session ends, so the proxy's second line per
// login (`session-end`) has no counterpart here.
//
// node [--import tsx] auth-http-checked.mjs PORT_FILE BACKEND_PORT MASTER_USER MODULES_DIR, with
// the proxy's environment (benchProxyEnv() in env.ts); MODULES_DIR is dist/src or src.
import http from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

const [portFile, backendPort, masterUser, modules] = [process.argv[2], Number(process.argv[3]), process.argv[4], process.argv[5]];
const load = (path) => import(pathToFileURL(join(modules, path)).href);
const { loadSections } = await load('config/load.js');
const { createAuthenticator } = await load('auth/factory.js');
const { LoginGuard, attemptOf } = await load('auth/login-guard.js');
const { failureLimits } = await load('state/index.js');
const { createLogger } = await load('observability/logger.js');
const { logAuthFailed, logLogin } = await load('observability/events.js');
const { sessionLogger } = await load('observability/metrics.js');

// No listeners of its own: the sections a login's decision reads (ALLOW_CLIENT_MASTER_LOGIN
// stays off, as in the bench's proxy).
const s = loadSections(process.env, {}, ['tokens', 'sessions', 'ops']);
const config = { ...s.tokens, ...s.sessions, ...s.ops, allowClientMasterLogin: false };
const root = createLogger(config.logLevel);
const authenticator = createAuthenticator(config, root);
const guard = new LoginGuard(failureLimits(config.limits));
const masterPassword = process.env.DMS_MASTER_PASSWORD ?? '';
const now = () => performance.timeOrigin + performance.now();
const timings = [];
let port = backendPort;
let requests = 0;

const server = http.createServer((req, res) => {
  const at = now();
  if (req.url === '/timings') {
    res.end(JSON.stringify(timings.splice(0)));
    return;
  }
  if (req.url?.startsWith('/backend?port=')) {
    port = Number(req.url.slice(14)) || backendPort;
    res.end('ok');
    return;
  }
  const done = () => {
    timings.push({ at, done: now() });
    if (timings.length > 100_000) timings.splice(0, 50_000); // bounded when nobody reads them
  };
  void answer(req, res).then(done, (err) => {
    root.error({ event: 'auth-http-error', err: String(err?.message) }, 'auth_http request failed');
    res.writeHead(500).end();
  });
});

async function answer(req, res) {
  const ip = String(req.headers['client-ip'] ?? '');
  const user = decodeURIComponent(String(req.headers['auth-user'] ?? ''));
  const token = decodeURIComponent(String(req.headers['auth-pass'] ?? ''));
  const log = sessionLogger(root, 'imap', `h${(++requests).toString(36)}`, ip);
  // PLAIN with the token as the password: decided as the proxy decides an XOAUTH2 login naming `user`.
  const creds = { kind: 'token', mechanism: 'XOAUTH2', authzid: user, token };
  const attempt = attemptOf(creds);
  const verdict = await guard.check(ip, attempt);
  if (verdict.blocked) {
    logAuthFailed(log, { mech: 'PLAIN', user, reason: `blocked (${verdict.scope})` });
    res.writeHead(200, { 'Auth-Status': 'Temporary failure, try again later', 'Auth-Wait': String(Math.ceil(verdict.retryAfterMs / 1000)) }).end();
    return;
  }
  const started = performance.now();
  const d = await authenticator.decideNow(creds);
  if (d.outcome !== 'token') {
    logAuthFailed(log, { mech: 'PLAIN', user, reason: d.reason });
    await guard.failed(ip, attempt);
    res.writeHead(200, { 'Auth-Status': 'Invalid login or password', 'Auth-Wait': '0' }).end();
    return;
  }
  guard.succeeded(ip, d.user);
  authenticator.succeeded(d, ip, 'imap');
  res.writeHead(200, {
    'Auth-Status': 'OK', 'Auth-Server': '127.0.0.1', 'Auth-Port': String(port),
    'Auth-User': `${d.user}*${masterUser}`, 'Auth-Pass': masterPassword,
  }).end();
  logLogin(log, { user: d.user, mech: 'PLAIN', via: 'token', backendMs: performance.now() - started });
}

server.listen(0, '127.0.0.1', () => { void writeFile(portFile, String(server.address().port)); });
