// Client-facing TLS: the floor every certificate source and session shares. The contexts come
// from tls-reload.ts (built once per certificate file change and shared by every connection:
// per-connection contexts cost memory and CPU); this file only starts TLS on a socket with them.
import tls from 'node:tls';

export const TLS_MIN_VERSION = 'TLSv1.2';

/** What sessions use to start server TLS: the current default context and SNI selection. */
export interface ServerTlsSource {
  readonly context: tls.SecureContext;
  readonly SNICallback: (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => void;
}

/** Starts server-side TLS on an accepted socket (implicit TLS or after STARTTLS), with the
 * certificate current now and SNI selection (src/net/tls-reload.ts). */
export function startServerTls(socket: import('node:net').Socket, source: ServerTlsSource): tls.TLSSocket {
  return new tls.TLSSocket(socket, { isServer: true, secureContext: source.context, SNICallback: source.SNICallback });
}
