// Client-facing TLS. One SecureContext is built at start-up and shared by every
// connection (per-connection contexts cost memory and CPU).
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

export const TLS_MIN_VERSION = 'TLSv1.2';

export interface TlsFiles { certPath: string; keyPath: string }

export function loadServerContext(files: TlsFiles): tls.SecureContext {
  return tls.createSecureContext({
    cert: readFileSync(files.certPath),
    key: readFileSync(files.keyPath),
    minVersion: TLS_MIN_VERSION,
  });
}

/** Starts server-side TLS on an accepted socket (implicit TLS or after STARTTLS). */
export function startServerTls(socket: import('node:net').Socket, context: tls.SecureContext): tls.TLSSocket {
  return new tls.TLSSocket(socket, { isServer: true, secureContext: context });
}
