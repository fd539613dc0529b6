// Matching client addresses against trusted networks (PROXY_PROTOCOL_TRUSTED_NETWORKS) with
// node's BlockList. The config holds the networks as plain data (config/networks.ts); the
// list is built from it once, at start-up.
import net from 'node:net';
import { parseCidrs, type Cidr } from '../config/networks.js';
import { plainAddress } from './peer.js';

export type Parsed = { ok: true; list: net.BlockList } | { ok: false; errors: string[] };

export function blockListOf(cidrs: readonly Cidr[]): net.BlockList {
  const list = new net.BlockList();
  for (const c of cidrs) list.addSubnet(c.address, c.prefix, c.family);
  return list;
}

/** Text to matcher in one step (tests, tools); the proxy itself starts from validated config. */
export function parseNetworks(raw: string): Parsed {
  const r = parseCidrs(raw);
  return r.ok ? { ok: true, list: blockListOf(r.cidrs) } : r;
}

export function isTrusted(list: net.BlockList, address: string | undefined): boolean {
  const a = plainAddress(address);
  return list.check(a, net.isIPv6(a) ? 'ipv6' : 'ipv4');
}
