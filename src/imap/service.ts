// The IMAP listeners (143 STARTTLS, 993 implicit TLS) and their sessions.
import { imapBackendLogin } from '../backend/imap-login.js';
import { imapTarget } from '../backend/targets.js';
import { listen, type Listener } from '../net/listen.js';
import type { Peer } from '../net/peer.js';
import { admit } from '../net/admit.js';
import type { SharedParts } from '../server-parts.js';
import { ImapSession, type ImapSessionDeps, type SessionHandle } from './session.js';
import { metrics } from '../observability/metrics.js';
import { bounded, until } from '../shutdown.js';
import { revocation } from '../net/revocation.js';
import { REFUSAL_CLOSE_MS } from '../limits.js';

const SHUTDOWN_TEXT = 'Server shutting down.';
const REVOKED_TEXT = 'Account disabled.';
const notTracked = (): void => undefined; // a session before login is not indexed by user

export interface ImapService {
  readonly listeners: Listener[];
  close(): Promise<void>;
  /** Graceful shutdown: stop accepting, BYE before login, logged-in sessions get `* BYE` when quiet, by `deadline` (epoch ms). */
  drain(deadline: number): Promise<void>;
}

export async function startImap(p: SharedParts): Promise<ImapService> {
  const { config } = p;
  const b = config.backend;
  const target = imapTarget(config, p.backendTls);
  // Every open connection, with what unregisters it from revocation once spliced.
  const sessions = new Map<SessionHandle, () => void>();
  // A user disabled over SCIM: each open session gets `* BYE` between two responses, or is cut.
  const revoked = revocation<SessionHandle>(p.disabled, p.log, 'imap', (h, deadline) => h.drain(REVOKED_TEXT, deadline, 'revoked'));
  const deps: ImapSessionDeps = {
    guard: p.guard,
    limits: { ...config.imap, ...config.sessions },
    allowPlaintextAuth: config.allowPlaintextAuth,
    tlsContext: p.tlsContext,
    authenticator: p.authenticator,
    backendLogin: (req) => imapBackendLogin(target, req),
    master: { user: b.masterUser, password: b.masterPassword },
    log: p.log,
    onEnd: (s) => {
      sessions.get(s)?.();
      sessions.delete(s);
    },
    onSpliced: (session, handle, user) => {
      if (!sessions.delete(session)) return;
      sessions.set(handle, revoked.track(user, handle));
    },
  };
  const accept = (implicitTls: boolean) => (socket: import('node:net').Socket, peer: Peer): void => {
    const refusal = admit(p, socket, peer);
    if (typeof refusal === 'string') {
      // Plaintext listener: a clear temporary failure. Implicit TLS: no handshake is
      // spent on a refused client, the connection just closes.
      if (!implicitTls) socket.end(`* BYE [UNAVAILABLE] ${refusal}\r\n`);
      else socket.destroy();
      setTimeout(() => socket.destroy(), REFUSAL_CLOSE_MS).unref();
      return;
    }
    const session = new ImapSession(socket, implicitTls, { ...deps, loggedIn: refusal.loggedIn }, peer);
    sessions.set(session, notTracked);
    session.start();
  };
  const listeners: Listener[] = [];
  const opts = { proxy: p.proxyIn, faults: { log: p.log, site: 'imap' as const } };
  if (config.listen.imap) listeners.push(await listen('imap', config.listen.imap, accept(false), opts));
  if (config.listen.imaps) listeners.push(await listen('imaps', config.listen.imaps, accept(true), opts));
  const untrack = metrics.trackSessions('imap', () => sessions.size);
  const service: ImapService = {
    listeners,
    async drain(deadline) {
      const closing = Promise.all(listeners.map((l) => l.close())); // stop accepting
      for (const s of sessions.keys()) s.drain(SHUTDOWN_TEXT, deadline);
      await until(() => sessions.size === 0, deadline);
      await service.close();
      await closing;
    },
    async close() {
      untrack();
      revoked.close();
      const closing = Promise.all(listeners.map((l) => l.close()));
      for (const s of sessions.keys()) s.cut(SHUTDOWN_TEXT);
      for (const l of listeners) l.destroyConnections(); // clients that did not close after their BYE
      await bounded(closing);
    },
  };
  return service;
}
