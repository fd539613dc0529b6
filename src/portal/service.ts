// Builds the portal from the proxy's shared parts (server.ts): the OIDC client, the session
// store (in process, or the shared store with SHARED_STATE_URL so any replica serves any
// browser), the listener. A user SCIM deactivates or deletes loses their portal sessions at
// once, as they lose their mail sessions.
import type { AppPasswordStore } from '../auth/app-passwords.js';
import type { SharedParts } from '../session/parts.js';
import { PortalOidc } from './oidc.js';
import { PortalSessions, type PortalSessionStore } from './sessions.js';
import { RedisPortalSessions } from './redis-sessions.js';
import { portalConnections, startPortalListener, type PortalListener } from './server.js';

export async function startPortal(parts: SharedParts, store: AppPasswordStore | undefined): Promise<PortalListener | null> {
  const { config, log, tlsContext, authenticator, disabled } = parts;
  const portal = config.portal;
  if (!portal) return null;
  // Config validation guarantees both (LISTEN_PORTAL needs APP_PASSWORDS_FILE and a certificate).
  if (!store || !tlsContext) throw new Error('the portal needs APP_PASSWORDS_FILE and SSL_CERT_PATH/SSL_KEY_PATH');
  const shared = config.sharedState ? RedisPortalSessions.open(config.sharedState, portal.sessionTtlMs) : undefined;
  const sessions: PortalSessionStore = shared ?? new PortalSessions(portal.sessionTtlMs);
  // Best effort in the store: every request checks the user's state again anyway (routes.ts).
  const unsubscribe = disabled?.onDisabled((user) => { void Promise.resolve(sessions.endUser(user)).catch(() => undefined); });
  const listener = await startPortalListener(portal.listen, tlsContext, parts.proxyIn, portalConnections(config.limits), {
    config: portal,
    oidc: new PortalOidc(portal, config.oauth2.timeoutMs),
    decide: (token) => authenticator.decide({ kind: 'token', mechanism: 'OAUTHBEARER', authzid: undefined, token }),
    store,
    sessions,
    ...(parts.provision ? { provision: (user, client) => parts.provision!.ensure(user, client) } : {}),
    disabledReason: (user) => disabled?.reason(user),
    guard: parts.guard,
    log: log.child({ listener: 'portal' }),
  }).catch((err: unknown) => {
    unsubscribe?.();
    shared?.close();
    throw err;
  });
  return {
    ...listener,
    close: async () => {
      unsubscribe?.();
      await listener.close();
      shared?.close();
    },
  };
}
