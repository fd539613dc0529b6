// What per-IP limits count as one client. An IPv6 host is usually given a whole /64 (RFC 6177
// §2; interface ids are 64 bits, RFC 4291 §2.5.4) and can pick any address in it, so counting
// exact addresses lets it rotate past every per-IP limit: IPv6 clients are counted by prefix.
// IPv4-mapped IPv6 (RFC 4291 §2.5.5.2, also in hex form as PROXY v2 headers give it) is IPv4.
import { isIPv4, isIPv6 } from 'node:net';

/** The key a client address is counted under: IPv4 as is, IPv6 as its first `ipv6PrefixBits` bits. */
export function clientKey(address: string, ipv6PrefixBits: number): string {
  if (isIPv4(address)) return address;
  const groups = ipv6Groups(address);
  if (!groups) return address; // not an IP ('unknown'): counted as given
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi, lo] = [groups[6]!, groups[7]!];
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  const bits = Math.max(0, Math.min(128, ipv6PrefixBits));
  const masked = groups.map((g, i) => {
    const keep = Math.max(0, Math.min(16, bits - i * 16));
    return keep === 0 ? 0 : g & (0xffff << (16 - keep)) & 0xffff;
  });
  return `${masked.map((g) => g.toString(16)).join(':')}/${bits}`;
}

/** The eight 16-bit groups of an IPv6 address (zone id dropped), or null when it is not one. */
function ipv6Groups(address: string): number[] | null {
  const a = address.split('%')[0]!;
  if (!isIPv6(a)) return null;
  let text = a;
  if (a.includes('.')) {
    // A dotted IPv4 tail is two groups.
    const cut = a.lastIndexOf(':') + 1;
    const [b0 = 0, b1 = 0, b2 = 0, b3 = 0] = a.slice(cut).split('.').map(Number);
    text = `${a.slice(0, cut)}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const [left = '', right] = text.split('::');
  const head = left ? left.split(':') : [];
  const tail = right ? right.split(':') : [];
  const zeros = right === undefined ? [] : Array<string>(8 - head.length - tail.length).fill('0');
  const groups = [...head, ...zeros, ...tail].map((g) => parseInt(g, 16));
  return groups.length === 8 ? groups : null;
}
