// The IMAP listeners (143 STARTTLS, 993 implicit TLS) and their sessions, on the shared
// line-protocol service (admission, registry, revocation, drain: session/line-service.ts).
import type { Service, SharedParts } from '../session/parts.js';
import { startLineService, type SessionHooks } from '../session/line-service.js';
import { imapGreeting, ImapSession, type ImapSessionDeps, type SessionHandle } from './session.js';

const SHUTDOWN_TEXT = 'Server shutting down.';
const REVOKED_TEXT = 'Account disabled.';
const APP_PASSWORD_TEXT = 'App password revoked.';

export type ImapService = Service;

export async function startImap(p: SharedParts): Promise<ImapService> {
  const { config } = p;
  const limits = { ...config.imap, ...config.sessions };
  const login = { authenticator: p.authenticator, guard: p.guard, backend: p.backend.imap, backendCall: p.backend.imapCall, provision: p.provision };
  // One literal of one shape per connection (a spread of a shared object made a copy by the
  // slow path on every connection).
  const deps = (h: SessionHooks<SessionHandle>): ImapSessionDeps => ({
    limits, allowPlaintextAuth: config.allowPlaintextAuth, tlsContext: p.tlsContext, login, log: p.log,
    loggedIn: h.loggedIn, onEnd: h.onEnd, onSpliced: h.onSpliced,
  });
  // Fixed per listener set-up: built once, not a CapabilityState literal per connection.
  const plaintextGreeting = imapGreeting({ secure: false, canStartTls: p.tlsContext !== null, allowPlaintextAuth: config.allowPlaintextAuth });
  return startLineService<SessionHandle>(p, {
    protocol: 'imap',
    listeners: [
      { name: 'imap', at: config.listen.imap, implicitTls: false },
      { name: 'imaps', at: config.listen.imaps, implicitTls: true },
    ],
    refusal: (text) => `* BYE [UNAVAILABLE] ${text}\r\n`,
    texts: { shutdown: SHUTDOWN_TEXT, revoked: REVOKED_TEXT, appPassword: APP_PASSWORD_TEXT },
    plaintextGreeting: () => plaintextGreeting,
    create: (socket, implicitTls, peer, hooks) => new ImapSession(socket, implicitTls, deps(hooks), peer),
  });
}
