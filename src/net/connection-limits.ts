// Open connections: in total, per client IP (an IPv6 client by its prefix: client-key.ts),
// and not yet logged in. A connection is counted from accept until its socket closes;
// release is tied to the socket's 'close' event so no code path can leak a slot.
import type net from 'node:net';
import { clientKey } from './client-key.js';

export interface ConnectionLimits {
  readonly maxTotal: number;
  readonly maxPerIp: number;
  readonly maxPreauth: number;
  /** IPv6 clients are counted by this prefix length (128: per address). */
  readonly ipv6PrefixBits: number;
}

export type Admission = { readonly ok: true; readonly loggedIn: () => void } | { readonly ok: false; readonly reason: 'total' | 'per-ip' | 'preauth' };

export class ConnectionLimiter {
  private total = 0;
  private preauth = 0;
  private readonly perIp = new Map<string, number>();

  constructor(private readonly limits: ConnectionLimits) {}

  admit(socket: net.Socket, address: string): Admission {
    const ip = clientKey(address, this.limits.ipv6PrefixBits);
    if (this.total >= this.limits.maxTotal) return { ok: false, reason: 'total' };
    if (this.preauth >= this.limits.maxPreauth) return { ok: false, reason: 'preauth' };
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.limits.maxPerIp) return { ok: false, reason: 'per-ip' };
    this.total += 1;
    this.preauth += 1;
    this.perIp.set(ip, n + 1);
    let inPreauth = true;
    const loggedIn = (): void => {
      if (!inPreauth) return;
      inPreauth = false;
      this.preauth -= 1;
    };
    // on(), not once(): 'close' comes once, and once() wraps each listener in a bound function
    // and a state object and removes it again, on every connection.
    socket.on('close', () => {
      loggedIn();
      this.total -= 1;
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left > 0) this.perIp.set(ip, left);
      else this.perIp.delete(ip);
    });
    return { ok: true, loggedIn };
  }

  stats(): { total: number; preauth: number; ips: number } {
    return { total: this.total, preauth: this.preauth, ips: this.perIp.size };
  }
}
