// Builds the running proxy from a validated config: one shared TLS context, one token
// validator, listeners per protocol. close() stops listening and ends every session.
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import type { Config } from './config/types.js';
import type { Logger } from './observability/logger.js';
import { loadServerContext } from './net/tls-context.js';
import { listen, type Listener } from './net/listen.js';
import { IdpHttpClient } from './auth/http.js';
import { UserinfoValidator } from './auth/userinfo-validator.js';
import { Authenticator } from './auth/authenticator.js';
import { imapBackendLogin, type ImapBackendTarget } from './backend/imap-login.js';
import { ImapSession, type ImapSessionDeps } from './imap/session.js';

export interface ProxyServer {
  readonly listeners: readonly Listener[];
  /** The bound address of a listener by name ('imap', 'imaps'), for tests and logs. */
  port(name: string): number;
  close(): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<ProxyServer> {
  const tlsContext = config.tls ? loadServerContext(config.tls) : null;
  const http = new IdpHttpClient({ timeoutMs: config.oauth2.timeoutMs, maxResponseBytes: config.oauth2.maxResponseBytes });
  const authenticator = new Authenticator(new UserinfoValidator(config.oauth2.url, http), { usernameAttribute: config.oauth2.usernameAttribute });
  const b = config.backend;
  const target: ImapBackendTarget = {
    host: b.host,
    port: b.imapPort,
    tls: b.tls,
    tlsOptions: { verify: b.tlsVerify, ca: b.caFile ? readFileSync(b.caFile) : null, servername: b.servername },
    timeoutMs: b.timeoutMs,
  };
  const sessions = new Set<ImapSession>();
  const deps: ImapSessionDeps = {
    limits: config.imap,
    allowPlaintextAuth: config.allowPlaintextAuth,
    tlsContext,
    authenticator,
    backendLogin: (req) => imapBackendLogin(target, req),
    master: { user: b.masterUser, password: b.masterPassword },
    log,
    onEnd: (s) => sessions.delete(s),
  };
  const accept = (implicitTls: boolean) => (socket: net.Socket): void => {
    const session = new ImapSession(socket, implicitTls, deps);
    sessions.add(session);
    session.start();
  };

  const listeners: Listener[] = [];
  try {
    if (config.listen.imap) listeners.push(await listen('imap', config.listen.imap, accept(false)));
    if (config.listen.imaps) listeners.push(await listen('imaps', config.listen.imaps, accept(true)));
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await authenticator.close();
    throw err;
  }
  for (const l of listeners) {
    const a = l.address();
    log.info({ event: 'listening', listener: l.name, address: a.address, port: a.port }, `listening for ${l.name}`);
  }

  return {
    listeners,
    port(name) {
      const l = listeners.find((x) => x.name === name);
      if (!l) throw new Error(`no listener ${name}`);
      return l.address().port;
    },
    async close() {
      const closing = Promise.all(listeners.map((l) => l.close()));
      for (const s of sessions) {
        s.close('Server shutting down.', 'shutdown');
        s.closeSplice?.('shutdown');
      }
      await closing;
      await authenticator.close();
    },
  };
}
