// CIDR lists (PROXY_PROTOCOL_TRUSTED_NETWORKS) on node's BlockList, which does the matching.
import net from 'node:net';
import { plainAddress } from './peer.js';

export type Parsed = { ok: true; list: net.BlockList; entries: string[] } | { ok: false; errors: string[] };

export function parseNetworks(raw: string): Parsed {
  const list = new net.BlockList();
  const entries = raw.split(/[\s,]+/).filter(Boolean);
  const errors: string[] = [];
  for (const entry of entries) {
    const [address = '', prefixText] = entry.split('/');
    const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : null;
    const max = family === 'ipv4' ? 32 : 128;
    const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
    if (!family || prefix < 0 || prefix > max) {
      errors.push(`not an IP address or CIDR: ${entry}`);
      continue;
    }
    list.addSubnet(address, prefix, family);
  }
  return errors.length ? { ok: false, errors } : { ok: true, list, entries };
}

export function isTrusted(list: net.BlockList, address: string | undefined): boolean {
  const a = plainAddress(address);
  return list.check(a, net.isIPv6(a) ? 'ipv6' : 'ipv4');
}
