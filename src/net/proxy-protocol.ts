// PROXY protocol v1 and v2 (HAProxy's proxy-protocol.txt): parse what a load balancer puts
// in front of a connection, and build the v2 header we send to DMS. Pure: bytes in, a
// header or an error out.
import { isIPv4, isIPv6 } from 'node:net';
import { MAX_PROXY_HEADER_BYTES } from '../limits.js';
import { ipv6Groups, mappedIpv4 } from './ip-address.js';

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ');
/** v1 lines are at most 107 bytes including CRLF (spec §2.1). */
const V1_MAX = 107;
const PP2_TYPE_SSL = 0x20;
const PP2_CLIENT_SSL = 0x01;

export interface ProxyAddress { readonly address: string; readonly port: number }

export interface ProxyHeader {
  readonly version: 1 | 2;
  /** LOCAL (v2) / UNKNOWN (v1): a health check from the balancer itself; keep the socket's addresses. */
  readonly local: boolean;
  readonly source?: ProxyAddress;
  readonly destination?: ProxyAddress;
}

export type ProxyParse =
  | { readonly status: 'incomplete' }
  | { readonly status: 'ok'; readonly header: ProxyHeader; readonly length: number }
  | { readonly status: 'error'; readonly reason: string };

const incomplete = { status: 'incomplete' } as const;
const error = (reason: string): ProxyParse => ({ status: 'error', reason });

export function parseProxyHeader(buf: Buffer, maxBytes = MAX_PROXY_HEADER_BYTES): ProxyParse {
  if (startsWithPrefix(buf, V2_SIGNATURE)) return buf.length < V2_SIGNATURE.length ? incomplete : parseV2(buf, maxBytes);
  if (startsWithPrefix(buf, V1_PREFIX)) return buf.length < V1_PREFIX.length ? incomplete : parseV1(buf);
  return error('no PROXY protocol header');
}

/** True while `buf` could still become `prefix` (or already starts with it). */
function startsWithPrefix(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  return buf.subarray(0, n).equals(prefix.subarray(0, n));
}

function parseV1(buf: Buffer): ProxyParse {
  const end = buf.indexOf('\r\n');
  if (end < 0) return buf.length >= V1_MAX ? error('v1 header too long') : incomplete;
  if (end + 2 > V1_MAX) return error('v1 header too long');
  const parts = buf.subarray(0, end).toString('latin1').split(' ');
  if (parts[1] === 'UNKNOWN') return { status: 'ok', header: { version: 1, local: true }, length: end + 2 };
  if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6')) return error('malformed v1 header');
  const [, family, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  // A zone id ("fe80::1%eth0") names an interface of the balancer, not a client.
  const valid = family === 'TCP4' ? isIPv4 : (a: string) => isIPv6(a) && !a.includes('%');
  if (!valid(src) || !valid(dst)) return error('malformed v1 address');
  const sp = port(sport);
  const dp = port(dport);
  if (sp === null || dp === null) return error('malformed v1 port');
  // One text per address, as v2 gives it: an IPv4 client of a dual-stack balancer as its plain
  // IPv4 address, any other IPv6 address in RFC 5952 form (2001:DB8:0::07 is 2001:db8::7), so
  // the logs, the per-IP limits and Dovecot see one client under one address.
  const text = (a: string): string => (family === 'TCP4' ? a : ipv6Text(ipv6Groups(a)!));
  return { status: 'ok', header: { version: 1, local: false, source: { address: text(src), port: sp }, destination: { address: text(dst), port: dp } }, length: end + 2 };
}

function port(s: string): number | null {
  if (!/^(0|[1-9]\d{0,4})$/.test(s)) return null;
  const n = Number(s);
  return n <= 65535 ? n : null;
}

function parseV2(buf: Buffer, maxBytes: number): ProxyParse {
  if (buf.length < 16) return incomplete;
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) return error('unsupported v2 version');
  const command = verCmd & 0x0f;
  if (command > 1) return error('unsupported v2 command');
  const family = buf[13]!;
  const len = buf.readUInt16BE(14);
  const total = 16 + len;
  if (total > maxBytes) return error('v2 header too long');
  if (buf.length < total) return incomplete;
  if (command === 0) return { status: 'ok', header: { version: 2, local: true }, length: total };
  const body = buf.subarray(16, total);
  if (family === 0x11) {
    if (len < 12) return error('short v2 IPv4 block');
    return ok2(ipv4(body.subarray(0, 4)), ipv4(body.subarray(4, 8)), body.readUInt16BE(8), body.readUInt16BE(10), total);
  }
  if (family === 0x21) {
    if (len < 36) return error('short v2 IPv6 block');
    return ok2(ipv6(body.subarray(0, 16)), ipv6(body.subarray(16, 32)), body.readUInt16BE(32), body.readUInt16BE(34), total);
  }
  // UNSPEC or UNIX sockets: nothing we can use as a client address (spec §2.2).
  if (family === 0x00 || family === 0x31 || family === 0x32) return { status: 'ok', header: { version: 2, local: true }, length: total };
  return error('unsupported v2 address family');
}

function ok2(src: string, dst: string, sport: number, dport: number, length: number): ProxyParse {
  return { status: 'ok', header: { version: 2, local: false, source: { address: src, port: sport }, destination: { address: dst, port: dport } }, length };
}

function ipv4(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/**
 * RFC 5952 text; an IPv4-mapped address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2: an IPv4 client
 * of a dual-stack balancer) as the plain IPv4 address a direct connection shows
 * (net/ip-address.ts), not as ::ffff:cb00:7107.
 */
function ipv6(b: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  return ipv6Text(groups);
}

function ipv6Text(groups: readonly number[]): string {
  return mappedIpv4(groups) ?? canonicalIpv6(groups.map((g) => g.toString(16)).join(':'));
}

/** RFC 5952 text form (the WHATWG URL serializer implements it), e.g. 2001:db8::1. */
function canonicalIpv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/**
 * The v2 header we send to DMS (Dovecot `haproxy = yes`, Postfix
 * `smtpd_upstream_proxy_protocol = haproxy`). With `tls`, a PP2_TYPE_SSL TLV says the
 * client used TLS, so Dovecot treats the connection as secured (spec §2.2.5).
 */
export function encodeProxyV2(source: ProxyAddress, destination: ProxyAddress, opts: { tls?: boolean } = {}): Buffer {
  const v4 = isIPv4(source.address) && isIPv4(destination.address);
  const v6 = !v4 && isIPv6(source.address) && isIPv6(destination.address);
  const tlv = opts.tls ? Buffer.from([PP2_TYPE_SSL, 0x00, 0x05, PP2_CLIENT_SSL, 0, 0, 0, 0]) : Buffer.alloc(0);
  let addresses: Buffer;
  if (v4) {
    addresses = Buffer.alloc(12);
    Buffer.from(source.address.split('.').map(Number)).copy(addresses, 0);
    Buffer.from(destination.address.split('.').map(Number)).copy(addresses, 4);
    addresses.writeUInt16BE(source.port, 8);
    addresses.writeUInt16BE(destination.port, 10);
  } else if (v6) {
    addresses = Buffer.concat([ipv6Bytes(source.address), ipv6Bytes(destination.address), Buffer.alloc(4)]);
    addresses.writeUInt16BE(source.port, 32);
    addresses.writeUInt16BE(destination.port, 34);
  } else {
    throw new RangeError('source and destination must both be IPv4 or both IPv6');
  }
  const head = Buffer.alloc(16);
  V2_SIGNATURE.copy(head);
  head[12] = 0x21; // version 2, PROXY
  head[13] = v4 ? 0x11 : 0x21; // TCP over IPv4 / IPv6
  head.writeUInt16BE(addresses.length + tlv.length, 14);
  return Buffer.concat([head, addresses, tlv]);
}

function ipv6Bytes(raw: string): Buffer {
  const address = canonicalIpv6(raw); // also turns an embedded IPv4 part into hex groups
  const [head = '', tail = ''] = address.includes('::') ? address.split('::') : [address, ''];
  const h = head ? head.split(':') : [];
  const tl = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - tl.length).fill('0'), ...tl];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/**
 * The v2 LOCAL header (spec §2.2: command 0x0, family UNSPEC, no addresses): a connection the
 * proxy makes for itself (a probe), which a `haproxy = yes` listener then takes as coming from
 * the proxy's own address instead of dropping it for want of a header.
 */
export function encodeProxyV2Local(): Buffer {
  const head = Buffer.alloc(16);
  V2_SIGNATURE.copy(head);
  head[12] = 0x20; // version 2, LOCAL
  return head; // family 0x00 (UNSPEC), length 0
}
