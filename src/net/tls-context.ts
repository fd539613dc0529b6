// Client-facing TLS. One SecureContext is built at start-up and shared by every
// connection (per-connection contexts cost memory and CPU).
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { ServerTlsSource } from './tls-reload.js';

export const TLS_MIN_VERSION = 'TLSv1.2';

export interface TlsFiles { certPath: string; keyPath: string }

export function loadServerContext(files: TlsFiles): tls.SecureContext {
  return tls.createSecureContext({
    cert: readFileSync(files.certPath),
    key: readFileSync(files.keyPath),
    minVersion: TLS_MIN_VERSION,
  });
}

/** Starts server-side TLS on an accepted socket (implicit TLS or after STARTTLS), with the
 * certificate current now and SNI selection (src/net/tls-reload.ts). */
export function startServerTls(socket: import('node:net').Socket, source: ServerTlsSource): tls.TLSSocket {
  return new tls.TLSSocket(socket, { isServer: true, secureContext: source.context, SNICallback: source.SNICallback });
}
