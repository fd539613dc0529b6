// What the portal answers, request by request. Every client mistake is a page with a 4xx
// status; only a bug throws (server.ts turns that into a 500). Nothing here logs a code,
// state, token, cookie or app password: sign-ins, changes and refusals are logged by user.
import { timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import * as oidc from 'openid-client';
import type { LoginDecision } from '../auth/authenticator.js';
import type { AppPasswordStore } from '../auth/app-passwords.js';
import type { LoginGuard } from '../auth/login-guard.js';
import type { PortalConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { parseRequestTarget } from '../net/request-target.js';
import { clearCookie, LOGIN_COOKIE, readCookie, SEALED_MAX_LENGTH, SESSION_COOKIE, setCookie } from './cookies.js';
import { checkSameOrigin, FormError, readForm } from './form.js';
import type { Reply } from './headers.js';
import { listPage, messagePage, signInPage } from './html.js';
import type { SignInStart } from './oidc.js';
import { PortalStoreDown, type PortalSession, type PortalSessionStore } from './sessions.js';
import { openLogin, sealLogin, type PendingLogin } from './login-seal.js';
import type { Peer } from '../net/peer.js';
import type { ProvisionResult } from '../session/provision.js';
import type { BackendClient } from '../backend/login-result.js';
import { backendClientOf } from '../backend/backend-client.js';
import { LogThrottle } from '../observability/log-throttle.js';
import { PORTAL_LOGIN_TTL_MS, REFUSAL_LOG_WINDOW_MS } from '../limits.js';

export interface PortalDeps {
  readonly config: PortalConfig;
  readonly oidc: { begin(): Promise<SignInStart>; finish(query: URLSearchParams, login: PendingLogin): Promise<string> };
  /** The token-login decision of every protocol: the same claim mapping, policy and SCIM state. */
  readonly decide: (accessToken: string) => Promise<LoginDecision>;
  readonly store: AppPasswordStore;
  readonly sessions: PortalSessionStore;
  /** PROVISION_ON_LOGIN: a first sign-in here creates the DMS account, as a first token login does. */
  readonly provision?: (user: string, client: BackendClient) => Promise<ProvisionResult>;
  /** Why a user may not log in now (SCIM deactivation), checked on every request. */
  readonly disabledReason: (user: string) => string | undefined;
  /**
   * The mail logins' failure limits (AUTH_FAIL_*), per client address: a sign-in that fails
   * at the IdP or the policy counts as a failed login, and a blocked address gets no sign-in.
   */
  readonly guard?: LoginGuard;
  readonly log: Logger;
}

const ROUTES: Readonly<Record<string, string>> = { '/': 'GET, HEAD', '/login': 'GET', '/callback': 'GET', '/create': 'POST', '/revoke': 'POST', '/logout': 'POST' };

const page = (status: number, title: string, text: string, extra: Partial<Reply> = {}): Reply => ({ status, html: messagePage(title, text), ...extra });
const seeOther = (cookies: string[] = []): Reply => ({ status: 303, location: '/', cookies });

/**
 * The warn lines of an outage (IdP, session store, app-password store): anonymous requests
 * can cause one each at no cost while it lasts, so per event the first is written, then one
 * per REFUSAL_LOG_WINDOW_MS with how many were left out (as connection-refused lines).
 */
export const outageLog = (): LogThrottle => new LogThrottle(REFUSAL_LOG_WINDOW_MS, 8);

/** Writes `line` unless `outages` held back its event within the window. */
function outage(deps: PortalDeps, outages: LogThrottle, line: { event: string } & Record<string, unknown>, msg: string): void {
  const suppressed = outages.pass(line.event);
  if (suppressed !== undefined) deps.log.warn({ ...line, ...(suppressed > 0 ? { suppressed } : {}) }, msg);
}

/** `outages`: the listener's throttle of outage lines (outageLog()); one of its own otherwise. */
export async function route(req: http.IncomingMessage, deps: PortalDeps, peer: Peer, outages: LogThrottle = outageLog()): Promise<Reply> {
  try {
    return await answer(req, deps, peer, outages);
  } catch (err) {
    if (appPasswordsDown(err)) {
      // The app-password store (the state file, or the shared store) cannot be read or
      // changed now: an outage, told as one, not a bug (internal-error is kept for those).
      outage(deps, outages, { event: 'portal-app-password-unavailable', remote: peer.address, err: err.message.slice(0, 200) }, 'portal: the app-password store cannot be used');
      return page(503, 'Try again later', 'App passwords cannot be read or changed right now. Try again in a minute.', { headers: { 'retry-after': '30' } });
    }
    if (!(err instanceof PortalStoreDown)) throw err;
    // Sessions are in the shared store (SHARED_STATE_URL) and it did not answer: fail closed,
    // with a page, for the portal alone (the mail ports do not need it).
    outage(deps, outages, { event: 'portal-store-unavailable', remote: peer.address, err: err.message.slice(0, 200) }, 'portal: the shared store does not answer');
    return page(503, 'Try again later', 'The portal cannot reach its session store right now. Mail is not affected. Try again in a minute.', { headers: { 'retry-after': '30' } });
  }
}

/** The app-password store's own failures: the shared store not answering, the state file unreadable or unwritable. */
const appPasswordsDown = (err: unknown): err is Error => err instanceof Error
  && ['ERR_APP_PASSWORDS_UNAVAILABLE', 'ERR_APP_PASSWORDS_FILE'].includes((err as { code?: unknown }).code as string);

async function answer(req: http.IncomingMessage, deps: PortalDeps, peer: Peer, outages: LogThrottle): Promise<Reply> {
  const remote = peer.address;
  const target = parseRequestTarget(req.url);
  if (!target) return page(400, 'Bad request', 'Malformed request target.');
  const allow = ROUTES[target.path];
  if (!allow) return page(404, 'Not found', 'There is nothing here.');
  const method = req.method ?? '';
  if (!allow.split(', ').includes(method)) return page(405, 'Method not allowed', `Use ${allow}.`, { headers: { allow } });
  const sid = readCookie(req.headers.cookie, SESSION_COOKIE);
  const session = await current(deps, sid);
  switch (target.path) {
    case '/': return session ? { status: 200, html: await list(deps, session) } : { status: 200, html: signInPage() };
    case '/login': return begin(deps, outages);
    case '/callback': return callback(req, deps, target.query, peer);
  }
  // A change: our own page's form, from a signed-in browser, with its CSRF token.
  try {
    checkSameOrigin(req, deps.config.origin);
    const form = await readForm(req);
    // The form came at the client's pace: a sign-out, an expiry or a SCIM deactivation or
    // deletion (which revokes every app password of the user) meanwhile holds, so look again.
    const live = session ? await current(deps, sid) : undefined;
    // Signing out of a session that has ended already: done, and the dead cookie goes.
    if (!live) return target.path === '/logout' ? seeOther([clearCookie(SESSION_COOKIE)]) : page(403, 'Signed out', 'Your session has ended. Sign in again.');
    if (!sameToken(form.get('csrf'), live.csrf)) return page(403, 'Forbidden', 'The form was not from this session. Reload the page and try again.');
    return await change(target.path, form, live, sid!, deps, remote);
  } catch (err) {
    if (err instanceof FormError) return page(err.status, 'Refused', err.message);
    throw err;
  }
}

async function current(deps: PortalDeps, sid: string | undefined): Promise<PortalSession | undefined> {
  const s = await deps.sessions.get(sid);
  if (s && deps.disabledReason(s.user)) {
    await deps.sessions.end(sid);
    return undefined;
  }
  return s;
}

function sameToken(sent: string | null, expected: string): boolean {
  const a = Buffer.from(sent ?? '');
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function list(deps: PortalDeps, s: PortalSession, extra: { created?: { label: string; secret: string }; error?: string } = {}): Promise<string> {
  return listPage({ user: s.user, csrf: s.csrf, records: await deps.store.list(s.user), ...extra });
}

async function begin(deps: PortalDeps, outages: LogThrottle): Promise<Reply> {
  let start: SignInStart;
  try {
    start = await deps.oidc.begin();
  } catch (err) {
    outage(deps, outages, { event: 'portal-idp-unavailable', err: (err as Error).message.slice(0, 200) }, 'portal: cannot reach the identity provider');
    return page(503, 'Try again later', 'The identity provider cannot be reached right now.');
  }
  // Nothing is kept here: the sign-in travels sealed in the cookie (login-seal.ts).
  const sealed = sealLogin(await deps.sessions.sealKey(), start.login, Date.now() + PORTAL_LOGIN_TTL_MS);
  return { status: 302, location: start.url, cookies: [setCookie(LOGIN_COOKIE, sealed, PORTAL_LOGIN_TTL_MS / 1000)] };
}

async function callback(req: http.IncomingMessage, deps: PortalDeps, query: URLSearchParams, peer: Peer): Promise<Reply> {
  const remote = peer.address;
  // Cleared whatever happens next: a code or a state is good for one try (RFC 9700 §4.5.3);
  // the IdP redeems a code once, so a replayed callback gets no second session either.
  const sealed = readCookie(req.headers.cookie, LOGIN_COOKIE, SEALED_MAX_LENGTH);
  const login: PendingLogin | undefined = sealed ? openLogin(await deps.sessions.sealKey(), sealed, Date.now()) : undefined;
  const cookies = [clearCookie(LOGIN_COOKIE)];
  const refuse = (status: number, reason: string, text: string, level: 'info' | 'debug' = 'info'): Reply => {
    deps.log[level]({ event: 'portal-signin-refused', remote, reason }, 'portal sign-in refused');
    return page(status, 'Sign-in failed', text, { cookies });
  };
  // A failed sign-in the client can bring about (each can cost a token request to the IdP and
  // an info line): counted against its address like a failed mail login, and answered after
  // the same growing delay. Outages (503) are not the client's failure and are not counted.
  const failed = async (status: number, reason: string, text: string): Promise<Reply> => {
    await deps.guard?.failed(remote);
    return refuse(status, reason, text);
  };
  const verdict = deps.guard ? await deps.guard.check(remote) : undefined;
  if (verdict?.blocked) {
    // Anyone can send these: at debug, so a blocked client cannot flood the log either.
    deps.log.debug({ event: 'portal-signin-refused', remote, reason: 'too many failed logins from this address' }, 'portal sign-in refused');
    const seconds = String(Math.max(1, Math.ceil(verdict.retryAfterMs / 1000)));
    return page(429, 'Sign-in failed', 'Too many failed sign-ins from your address. Try again later.', { cookies, headers: { 'retry-after': seconds } });
  }
  // What anyone can send without going to the IdP stays at debug, so it cannot flood the log.
  if (!login) return refuse(400, 'no sign-in in progress in this browser (absent, expired, tampered or foreign)', 'This sign-in has expired or was already used. Start again.', 'debug');
  if (query.get('state') !== login.state) return refuse(400, 'state does not match', 'This sign-in does not belong to this browser. Start again.', 'debug');
  const idpError = query.get('error');
  if (idpError) return failed(idpError === 'access_denied' ? 403 : 400, `the identity provider answered ${idpError.slice(0, 64)}`, 'The identity provider did not sign you in.');
  let token: string;
  try {
    token = await deps.oidc.finish(query, login);
  } catch (err) {
    const down = err instanceof TypeError || (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
      || (err instanceof oidc.ResponseBodyError && err.status >= 500);
    const reason = whyExchangeFailed(err);
    return down ? refuse(503, `identity provider unavailable (${reason})`, 'The identity provider cannot be reached right now. Try again later.')
      : failed(400, `code exchange failed (${reason})`, 'The identity provider\'s answer was not valid. Start again.');
  }
  const d = await deps.decide(token);
  if (d.outcome === 'unavailable') return refuse(503, d.reason, 'Your sign-in cannot be checked right now. Try again later.');
  if (d.outcome !== 'token') return failed(403, d.outcome === 'rejected' ? d.reason : 'not a token decision', 'This account may not use mail here.');
  if (deps.provision) {
    const p = await deps.provision(d.user, backendClientOf(peer, true)); // never { ...peer }: backend-client.ts says why
    if (p.kind === 'refused') return failed(403, `user disabled: ${p.reason}`, 'This account may not use mail here.');
    if (p.kind === 'unavailable') return refuse(503, p.reason, 'Your mailbox is being set up. Try again in a minute.');
  }
  const sid = await deps.sessions.start(d.user);
  const made = await deps.sessions.get(sid);
  if (!made) throw new PortalStoreDown('the new session was not found again');
  // The session this browser held before (its cookie is replaced now) ends, not left to time out.
  const previous = readCookie(req.headers.cookie, SESSION_COOKIE);
  if (previous && previous !== sid) await deps.sessions.end(previous);
  deps.guard?.succeeded(remote, d.user);
  deps.log.info({ event: 'portal-signin', user: d.user, remote, issuer: d.issuer ?? null }, 'portal sign-in');
  return seeOther([...cookies, setCookie(SESSION_COOKIE, sid, deps.sessions.remainingSeconds(made))]);
}

/**
 * Why a code exchange failed, for the log line: openid-client's code and text, the OAuth
 * error the IdP answered (a token endpoint's body, or its WWW-Authenticate challenge:
 * invalid_client for a wrong secret), and the check that failed (the wrapper's cause: an
 * `iss` mix-up, an ID token's audience or nonce). Never the IdP's free text or a value.
 */
function whyExchangeFailed(err: unknown): string {
  const e = (err ?? {}) as { code?: unknown; name?: unknown; message?: unknown; error?: unknown; cause?: unknown };
  const word = (x: unknown): string | undefined => (typeof x === 'string' && /^[\x21-\x7e]{1,64}$/.test(x) ? x : undefined);
  const parts = [`${word(e.code) ?? word(e.name) ?? 'Error'}: ${String(e.message ?? '').slice(0, 200)}`];
  const challenges = Array.isArray(e.cause) ? e.cause as Array<{ parameters?: { error?: unknown } }> : [];
  const oauthError = word(e.error) ?? challenges.map((c) => word(c?.parameters?.error)).find(Boolean);
  if (oauthError) parts.push(`error ${oauthError}`);
  if (e.cause instanceof Error) parts.push(e.cause.message.slice(0, 200));
  return parts.join('; ');
}

async function change(path: string, form: URLSearchParams, s: PortalSession, sid: string, deps: PortalDeps, remote: string): Promise<Reply> {
  const log = { user: s.user, remote };
  switch (path) {
    case '/create': {
      let made: Awaited<ReturnType<AppPasswordStore['create']>>;
      try {
        made = await deps.store.create(s.user, form.get('label') ?? '');
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_APP_PASSWORD_LIMIT') throw err;
        return { status: 409, html: await list(deps, s, { error: (err as Error).message }) };
      }
      if (deps.disabledReason(s.user)) {
        // Deactivated or deleted while it was being made: a deletion's revoke-all may have run
        // before it was stored, so it goes now, and its secret is never shown.
        await deps.store.revoke(s.user, made.record.id);
        return page(403, 'Signed out', 'Your session has ended. Sign in again.');
      }
      deps.log.info({ event: 'portal-app-password-created', ...log, id: made.record.id }, 'app password created in the portal');
      return { status: 200, html: await list(deps, s, { created: { label: made.record.label, secret: made.secret } }) };
    }
    case '/revoke': {
      const id = form.get('id') ?? '';
      // revoke() only ever looks among this user's own: another user's id revokes nothing.
      const n = id && id !== 'all' ? await deps.store.revoke(s.user, id) : 0;
      if (n === 0) return { status: 404, html: await list(deps, s, { error: 'No such app password.' }) };
      deps.log.info({ event: 'portal-app-password-revoked', ...log, id }, 'app password revoked in the portal');
      return seeOther();
    }
    default: // '/logout'
      await deps.sessions.end(sid);
      deps.log.info({ event: 'portal-signout', ...log }, 'portal sign-out');
      return seeOther([clearCookie(SESSION_COOKIE)]);
  }
}
