// What the IMAP and SMTP services share, built once at start-up.
import type tls from 'node:tls';
import type { Config } from './config/types.js';
import type { Logger } from './observability/logger.js';
import type { Authenticator } from './auth/authenticator.js';
import type { BackendTlsOptions } from './backend/dial.js';

export interface SharedParts {
  readonly config: Config;
  readonly log: Logger;
  /** One client-facing SecureContext for every listener and connection. */
  readonly tlsContext: tls.SecureContext | null;
  readonly authenticator: Authenticator;
  readonly backendTls: BackendTlsOptions;
}
