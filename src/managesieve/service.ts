// The ManageSieve listener (RFC 5804, DMS port 4190; off unless LISTEN_MANAGESIEVE is set) and
// its sessions, on the shared line-protocol service (admission, registry, revocation, drain).
import type { Service, SharedParts } from '../session/parts.js';
import { startLineService, type LiveSession, type SessionHooks } from '../session/line-service.js';
import { probeManageSieve } from '../backend/managesieve-login.js';
import { SieveCapabilitySource } from './capabilities.js';
import { ManageSieveSession, sieveGreeting, type SieveSessionDeps } from './session.js';
import { farewell } from './replies.js';

const SHUTDOWN_TEXT = 'Server shutting down.';
const REVOKED_TEXT = 'Account disabled.';
const APP_PASSWORD_TEXT = 'App password revoked.';

export async function startManageSieve(p: SharedParts): Promise<Service> {
  const { config } = p;
  const capabilities = new SieveCapabilitySource();
  const limits = { ...config.imap, ...config.sessions }; // the same pre-login line, literal and bad-command limits as IMAP
  const login = { authenticator: p.authenticator, guard: p.guard, backend: p.backend.managesieve, provision: p.provision };
  const deps = (h: SessionHooks<LiveSession>): SieveSessionDeps => ({
    limits, allowPlaintextAuth: config.allowPlaintextAuth, tlsContext: p.tlsContext, login, capabilities, log: p.log,
    loggedIn: h.loggedIn, onEnd: h.onEnd, onSpliced: h.onSpliced,
  });
  const service = await startLineService(p, {
    protocol: 'managesieve',
    listeners: [{ name: 'managesieve', at: config.listen.managesieve, implicitTls: false }],
    refusal: (text) => farewell(`(TRYLATER) ${text}`),
    texts: { shutdown: SHUTDOWN_TEXT, revoked: REVOKED_TEXT, appPassword: APP_PASSWORD_TEXT },
    plaintextGreeting: () => sieveGreeting({ secure: false, canStartTls: p.tlsContext !== null, allowPlaintextAuth: config.allowPlaintextAuth }, capabilities.current),
    create: (socket, implicitTls, peer, hooks) => new ManageSieveSession(socket, implicitTls, deps(hooks), peer),
  });
  if (config.listen.managesieve) {
    // What Dovecot's Sieve supports, asked once at start-up (not awaited: a DMS still starting
    // must not hold up the proxy); each login refreshes it.
    void probeManageSieve(p.backend.managesieveEndpoint).then((caps) => {
      if (caps) capabilities.update(caps);
      else p.log.warn({ event: 'backend-probe-failed', protocol: 'managesieve' }, 'cannot read the backend ManageSieve capabilities yet; using Dovecot defaults');
    });
  }
  return service;
}
