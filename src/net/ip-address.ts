// IPv6 addresses as their eight 16-bit groups, and the IPv4 client inside an IPv4-mapped one
// (RFC 4291 §2.5.5.2: ::ffff:a.b.c.d, or ::ffff:c000:207 in hex, as an IPv4 client of a
// dual-stack listener or balancer appears). Every place that shows, matches or counts a client
// address unmaps it here, so one client has one address in logs, limits, trusted networks and DMS.
import { isIPv6 } from 'node:net';

/** The eight 16-bit groups of an IPv6 address (zone id dropped), or null when it is not one. */
export function ipv6Groups(address: string): number[] | null {
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

/** The dotted IPv4 address that eight IPv6 groups stand for when they are IPv4-mapped; otherwise undefined. */
export function mappedIpv4(groups: ArrayLike<number>): string | undefined {
  for (let i = 0; i < 5; i++) if (groups[i] !== 0) return undefined;
  if (groups[5] !== 0xffff) return undefined;
  const [hi, lo] = [groups[6]!, groups[7]!];
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** An IPv4-mapped address, in any spelling, as its plain IPv4 address; any other text as given. */
export function unmapIpv4(address: string): string {
  if (!address.includes(':')) return address; // IPv4, or not an address at all
  const groups = ipv6Groups(address);
  return (groups && mappedIpv4(groups)) ?? address;
}
