// How DMS learns the real client address: the client half of every backend login request,
// and the PROXY protocol v2 header for a Dovecot `haproxy = yes` listener or a Postfix
// `smtpd_upstream_proxy_protocol = haproxy` service.
import { isIPv4 } from 'node:net';
import { encodeProxyV2 } from '../net/proxy-protocol.js';

export interface ClientAddress {
  readonly address: string;
  readonly port: number;
  /** Where the client connected to (our listener), as DMS should log it. */
  readonly localAddress: string;
  readonly localPort: number;
  /** The client used TLS to reach us (Dovecot then treats the connection as secured). */
  readonly tls: boolean;
}

/**
 * ID fields (RFC 2971) naming the real client, which Dovecot trusts from
 * login_trusted_networks. Its rip= (logs, Fail2Ban) and its auth penalty, per remote IP,
 * then land on the client, not on the proxy that every client shares.
 */
export function originatingIdFields(c: Omit<ClientAddress, 'tls'>): Array<[string, string]> {
  // Port 0 means "not known" (doctor's stand-in client): Dovecot 2.4 answers an ID carrying
  // port 0 with `BAD Invalid ID parameters`, which would end the login. Leave it out.
  const fields: Array<[string, string]> = [['x-originating-ip', c.address]];
  if (c.port > 0) fields.push(['x-originating-port', String(c.port)]);
  fields.push(['x-connected-ip', c.localAddress]);
  if (c.localPort > 0) fields.push(['x-connected-port', String(c.localPort)]);
  return fields;
}

export function proxyHeaderFor(c: ClientAddress): Buffer {
  const v4 = isIPv4(c.address);
  // Both addresses must be of one family; a dual-stack listener can mix them.
  const local = isIPv4(c.localAddress) === v4 ? { address: c.localAddress, port: c.localPort } : { address: v4 ? '0.0.0.0' : '::', port: 0 };
  return encodeProxyV2({ address: c.address, port: c.port }, local, { tls: c.tls });
}
