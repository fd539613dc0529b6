// What every protocol's service shares, built once at start-up (server.ts).
import type { ServerTlsSource } from '../net/tls-context.js';
import type { ConnectionLimiter } from '../net/connection-limits.js';
import type { LogThrottle } from '../observability/log-throttle.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { LoginGuard } from '../auth/login-guard.js';
import type { DisabledUsers } from '../auth/disabled-users.js';
import type { AppPasswordStore } from '../auth/app-passwords.js';
import type { BackendTargets } from '../backend/targets.js';
import type { ProxyProtocolIn } from '../net/listen.js';
import type { Provisioner } from './provision.js';

export interface SharedParts {
  readonly config: Config;
  readonly log: Logger;
  /** The client-facing certificates (reloaded when their files change; SNI). */
  readonly tlsContext: ServerTlsSource | null;
  readonly authenticator: Authenticator;
  /** DMS's services, with the master credentials bound in (built once). */
  readonly backend: BackendTargets;
  /** Failed-login counting, delays and blocks, per IP and user, across every protocol. */
  readonly guard: LoginGuard;
  /** Open connections in total, per IP, and before login, across all listeners. */
  readonly connections: ConnectionLimiter;
  /** Their connection-refused log lines, bounded (admission.ts refusalLog()). */
  readonly refusals: LogThrottle;
  /** Inbound PROXY protocol (trusted balancers), built once from the config; null when off. */
  readonly proxyIn: ProxyProtocolIn | null;
  /** Users disabled over SCIM (when SCIM is on): their open sessions are ended too. */
  readonly disabled?: DisabledUsers;
  /** APP_PASSWORDS_FILE: a revoked app password ends the sessions that logged in with it. */
  readonly appPasswords?: AppPasswordStore;
  /** PROVISION_ON_LOGIN: DMS accounts created on a user's first token login (issue 19). */
  readonly provision?: Provisioner;
}

/** A protocol's listeners and sessions, as the server starts and stops them. */
export interface Service {
  readonly listeners: import('../net/listen.js').Listener[];
  close(): Promise<void>;
  /** Graceful shutdown: stop accepting, end sessions before login, spliced ones at their next safe point, by `deadline` (epoch ms). */
  drain(deadline: number): Promise<void>;
}
