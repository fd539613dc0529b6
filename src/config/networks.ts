// CIDR lists (PROXY_PROTOCOL_TRUSTED_NETWORKS) as plain data: validated here, once, and
// turned into a matcher by net/trusted-networks.ts where connections are accepted.
import { isIPv4, isIPv6 } from 'node:net';

export interface Cidr { readonly address: string; readonly prefix: number; readonly family: 'ipv4' | 'ipv6' }

export type ParsedCidrs = { ok: true; cidrs: Cidr[] } | { ok: false; errors: string[] };

/** Comma or space separated `address[/prefix]` entries; a bare address is one host. */
export function parseCidrs(raw: string): ParsedCidrs {
  const cidrs: Cidr[] = [];
  const errors: string[] = [];
  for (const entry of raw.split(/[\s,]+/).filter(Boolean)) {
    const [address = '', prefixText] = entry.split('/');
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
    const max = family === 'ipv4' ? 32 : 128;
    const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
    if (!family || prefix < 0 || prefix > max) errors.push(`not an IP address or CIDR: ${entry}`);
    else cidrs.push({ address, prefix, family });
  }
  return errors.length ? { ok: false, errors } : { ok: true, cidrs };
}
