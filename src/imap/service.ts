// The IMAP listeners (143 STARTTLS, 993 implicit TLS) and their sessions.
import { imapBackendLogin, type ImapBackendTarget } from '../backend/imap-login.js';
import { listen, type Listener } from '../net/listen.js';
import type { SharedParts } from '../server-parts.js';
import { ImapSession, type ImapSessionDeps } from './session.js';

export interface ImapService {
  readonly listeners: Listener[];
  close(): Promise<void>;
}

export async function startImap(p: SharedParts): Promise<ImapService> {
  const { config } = p;
  const b = config.backend;
  const target: ImapBackendTarget = { host: b.host, port: b.imapPort, tls: b.tls, tlsOptions: p.backendTls, timeoutMs: b.timeoutMs };
  const sessions = new Set<ImapSession>();
  const deps: ImapSessionDeps = {
    limits: config.imap,
    allowPlaintextAuth: config.allowPlaintextAuth,
    tlsContext: p.tlsContext,
    authenticator: p.authenticator,
    backendLogin: (req) => imapBackendLogin(target, req),
    master: { user: b.masterUser, password: b.masterPassword },
    log: p.log,
    onEnd: (s) => sessions.delete(s),
  };
  const accept = (implicitTls: boolean) => (socket: import('node:net').Socket): void => {
    const session = new ImapSession(socket, implicitTls, deps);
    sessions.add(session);
    session.start();
  };
  const listeners: Listener[] = [];
  if (config.listen.imap) listeners.push(await listen('imap', config.listen.imap, accept(false)));
  if (config.listen.imaps) listeners.push(await listen('imaps', config.listen.imaps, accept(true)));
  return {
    listeners,
    async close() {
      const closing = Promise.all(listeners.map((l) => l.close()));
      for (const s of sessions) {
        s.close('Server shutting down.', 'shutdown');
        s.closeSplice?.('shutdown');
      }
      await closing;
    },
  };
}
