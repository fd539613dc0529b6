// The client of a backend login, as a listener's Peer saw it (the portal and the framed
// protocols; SMTP reads its client from smtp-server's own fields).
import type { Peer } from '../net/peer.js';
import type { BackendClient } from './login-result.js';

/**
 * `peer` as a BackendClient, field by field. Never spread a Peer: a SocketPeer's local end is
 * a pair of prototype getters (net/peer.ts), and `{ ...peer }` copies own fields only, so the
 * client reached Dovecot without a local end (every provisioning sign-in in the portal was a
 * 500 once; test/portal/callback-provision.test.ts pins it). Always the same seven fields,
 * in one order: one object shape for every login (a spread took V8's slow path on each).
 */
export function backendClientOf(peer: Peer, tls: boolean, sessionId?: string, idFields?: BackendClient['idFields']): BackendClient {
  return { address: peer.address, port: peer.port, localAddress: peer.localAddress, localPort: peer.localPort, tls, sessionId, idFields };
}
