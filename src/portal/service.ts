// Builds the portal from the proxy's shared parts (server.ts): the OIDC client, the session
// store, the listener. A user SCIM deactivates or deletes loses their portal sessions at
// once, as they lose their mail sessions.
import type { AppPasswordStore } from '../auth/app-passwords.js';
import type { SharedParts } from '../session/parts.js';
import { PortalOidc } from './oidc.js';
import { PortalSessions } from './sessions.js';
import { startPortalListener, type PortalListener } from './server.js';

export async function startPortal(parts: SharedParts, store: AppPasswordStore | undefined): Promise<PortalListener | null> {
  const { config, log, tlsContext, authenticator, disabled } = parts;
  const portal = config.portal;
  if (!portal) return null;
  // Config validation guarantees both (LISTEN_PORTAL needs APP_PASSWORDS_FILE and a certificate).
  if (!store || !tlsContext) throw new Error('the portal needs APP_PASSWORDS_FILE and SSL_CERT_PATH/SSL_KEY_PATH');
  const sessions = new PortalSessions(portal.sessionTtlMs);
  const unsubscribe = disabled?.onDisabled((user) => sessions.endUser(user));
  const listener = await startPortalListener(portal.listen, tlsContext, parts.proxyIn, {
    config: portal,
    oidc: new PortalOidc(portal, config.oauth2.timeoutMs),
    decide: (token) => authenticator.decide({ kind: 'token', mechanism: 'OAUTHBEARER', authzid: undefined, token }),
    store,
    sessions,
    ...(parts.provision ? { provision: (user, client) => parts.provision!.ensure(user, client) } : {}),
    disabledReason: (user) => disabled?.reason(user),
    log: log.child({ listener: 'portal' }),
  });
  return {
    ...listener,
    close: async () => {
      unsubscribe?.();
      await listener.close();
    },
  };
}
