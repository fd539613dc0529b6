// The POP3 listeners (110 with STLS, 995 implicit TLS; both off unless configured) and their
// sessions, on the shared line-protocol service (admission, registry, revocation, drain:
// session/line-service.ts).
import type { Service, SharedParts } from '../session/parts.js';
import { startLineService, type LiveSession, type SessionHooks } from '../session/line-service.js';
import { POP3_GREETING, Pop3Session, type Pop3SessionDeps } from './session.js';
import { err, TEXT } from './replies.js';

export async function startPop3(p: SharedParts): Promise<Service> {
  const { config } = p;
  const limits = { ...config.imap, ...config.sessions }; // the same line and bad-command limits as IMAP's pre-login
  const login = { authenticator: p.authenticator, guard: p.guard, backend: p.backend.pop3, provision: p.provision };
  const deps = (h: SessionHooks<LiveSession>): Pop3SessionDeps => ({
    limits, allowPlaintextAuth: config.allowPlaintextAuth, tlsContext: p.tlsContext, login, log: p.log,
    loggedIn: h.loggedIn, onEnd: h.onEnd, onSpliced: h.onSpliced,
  });
  return startLineService<LiveSession>(p, {
    protocol: 'pop3',
    listeners: [
      { name: 'pop3', at: config.listen.pop3, implicitTls: false },
      { name: 'pop3s', at: config.listen.pop3s, implicitTls: true },
    ],
    refusal: (text) => err(text, 'SYS/TEMP'),
    texts: { shutdown: TEXT.shutdown, revoked: TEXT.revoked, appPassword: TEXT.appPasswordRevoked },
    plaintextGreeting: () => POP3_GREETING,
    create: (socket, implicitTls, peer, hooks) => new Pop3Session(socket, implicitTls, deps(hooks), peer),
  });
}
