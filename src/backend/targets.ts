// Where and how to reach DMS, from the config, in one place for every user of it.
import type { Config } from '../config/types.js';
import type { BackendTlsOptions } from './dial.js';
import type { ImapBackendTarget } from './imap-login.js';

export function imapTarget(config: Config, tlsOptions: BackendTlsOptions): ImapBackendTarget {
  const b = config.backend;
  return { host: b.host, port: b.imapPort, tls: b.tls, tlsOptions, timeoutMs: b.timeoutMs, proxyProtocol: config.proxyProtocol.toImap };
}
