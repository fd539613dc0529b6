// What per-IP limits count as one client. An IPv6 host is usually given a whole /64 (RFC 6177
// §2; interface ids are 64 bits, RFC 4291 §2.5.4) and can pick any address in it, so counting
// exact addresses lets it rotate past every per-IP limit: IPv6 clients are counted by prefix.
// IPv4-mapped IPv6 (RFC 4291 §2.5.5.2, also in hex form as PROXY v2 headers give it) is IPv4.
import { ipv6Groups, mappedIpv4 } from './ip-address.js';

/** The key a client address is counted under: IPv4 as is, IPv6 as its first `ipv6PrefixBits` bits. */
export function clientKey(address: string, ipv6PrefixBits: number): string {
  // Every IPv6 spelling has a colon: without one it is IPv4 or no IP at all ('unknown'), both
  // counted as given, with no regular expression run per connection.
  if (!address.includes(':')) return address;
  const groups = ipv6Groups(address);
  if (!groups) return address; // not an IP ('unknown'): counted as given
  const v4 = mappedIpv4(groups);
  if (v4) return v4;
  const bits = Math.max(0, Math.min(128, ipv6PrefixBits));
  const masked = groups.map((g, i) => {
    const keep = Math.max(0, Math.min(16, bits - i * 16));
    return keep === 0 ? 0 : g & (0xffff << (16 - keep)) & 0xffff;
  });
  return `${masked.map((g) => g.toString(16)).join(':')}/${bits}`;
}
