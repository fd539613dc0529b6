// What the IMAP and SMTP services share, built once at start-up.
import type { ServerTlsSource } from './net/tls-reload.js';
import type { Config } from './config/types.js';
import type { Logger } from './observability/logger.js';
import type { Authenticator } from './auth/authenticator.js';
import type { BackendTlsOptions } from './backend/dial.js';
import type { LoginGuard } from './auth/login-guard.js';
import type { ConnectionLimiter } from './net/connection-limits.js';
import type { DisabledUsers } from './auth/disabled-users.js';
import type { ProxyProtocolIn } from './net/listen.js';

export interface SharedParts {
  readonly config: Config;
  readonly log: Logger;
  /** The client-facing certificates (reloaded when their files change; SNI). */
  readonly tlsContext: ServerTlsSource | null;
  readonly authenticator: Authenticator;
  readonly backendTls: BackendTlsOptions;
  /** Failed-login counting, delays and blocks, per IP and user, across both protocols. */
  readonly guard: LoginGuard;
  /** Open connections in total, per IP, and before login, across all listeners. */
  readonly connections: ConnectionLimiter;
  /** Inbound PROXY protocol (trusted balancers), built once from the config; null when off. */
  readonly proxyIn: ProxyProtocolIn | null;
  /** Users disabled over SCIM (when SCIM is on): their open sessions are ended too. */
  readonly disabled?: DisabledUsers;
}
