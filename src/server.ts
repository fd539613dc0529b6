// Builds the running proxy from a validated config: one shared TLS context, one token
// validator, the IMAP and SMTP services. close() stops listening and ends every session.
import { readFileSync } from 'node:fs';
import type { Config } from './config/types.js';
import type { Logger } from './observability/logger.js';
import { loadServerContext } from './net/tls-context.js';
import type { Listener } from './net/listen.js';
import { IdpHttpClient } from './auth/http.js';
import { UserinfoValidator } from './auth/userinfo-validator.js';
import { Authenticator } from './auth/authenticator.js';
import { startImap, type ImapService } from './imap/service.js';
import { startSmtp, type SmtpService } from './smtp/service.js';
import type { SharedParts } from './server-parts.js';

export interface ProxyServer {
  readonly listeners: readonly Listener[];
  /** The bound port of a listener by name ('imap', 'imaps', 'submission', 'submissions'). */
  port(name: string): number;
  close(): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<ProxyServer> {
  const http = new IdpHttpClient({ timeoutMs: config.oauth2.timeoutMs, maxResponseBytes: config.oauth2.maxResponseBytes });
  const b = config.backend;
  const parts: SharedParts = {
    config,
    log,
    tlsContext: config.tls ? loadServerContext(config.tls) : null,
    authenticator: new Authenticator(new UserinfoValidator(config.oauth2.url, http), { usernameAttribute: config.oauth2.usernameAttribute }),
    backendTls: { verify: b.tlsVerify, ca: b.caFile ? readFileSync(b.caFile) : null, servername: b.servername },
  };
  const services: Array<ImapService | SmtpService> = [];
  try {
    services.push(await startImap(parts));
    services.push(await startSmtp(parts));
  } catch (err) {
    await Promise.all(services.map((s) => s.close()));
    await parts.authenticator.close();
    throw err;
  }
  const listeners = services.flatMap((s) => s.listeners);
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
      await Promise.all(services.map((s) => s.close()));
      await parts.authenticator.close();
    },
  };
}
