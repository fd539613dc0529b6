// Open connections: in total, per client IP (an IPv6 client by its prefix: client-key.ts),
// and not yet logged in. A connection is counted from accept until its socket closes;
// release is tied to the socket's 'close' event so no code path can leak a slot.
//
// Every connection passes here (issue 21). check() and hold() are apart so that a plaintext
// greeting is written between them (session/admission.ts): what only counts is done after
// it. An admitted connection is one Slot (its login hook and 'close' listener on it), not a
// result object and closures over a scope of their own; a refusal is one of three constants.
import type net from 'node:net';
import { clientKey } from './client-key.js';

export interface ConnectionLimits {
  readonly maxTotal: number;
  readonly maxPerIp: number;
  readonly maxPreauth: number;
  /** IPv6 clients are counted by this prefix length (128: per address). */
  readonly ipv6PrefixBits: number;
}

export type Refusal = { readonly ok: false; readonly reason: 'total' | 'per-ip' | 'preauth' };
export type Admission = { readonly ok: true; readonly loggedIn: () => void } | Refusal;

const REFUSED = {
  total: Object.freeze({ ok: false, reason: 'total' }),
  'per-ip': Object.freeze({ ok: false, reason: 'per-ip' }),
  preauth: Object.freeze({ ok: false, reason: 'preauth' }),
} as const satisfies Record<Refusal['reason'], Refusal>;

/** An admitted connection's place in the counts, until its socket closes. */
export class Slot {
  readonly ok = true;
  private inPreauth = true;
  /** A plain function: the session calls it once logged in (the first call counts). */
  readonly loggedIn = (): void => {
    if (!this.inPreauth) return;
    this.inPreauth = false;
    this.counts.preauthEnded();
  };

  constructor(private readonly counts: ConnectionLimiter, private readonly ip: string) {}

  /** The socket's 'close' listener. */
  readonly release = (): void => {
    this.loggedIn();
    this.counts.left(this.ip);
  };
}

export class ConnectionLimiter {
  private total = 0;
  private preauth = 0;
  private readonly perIp = new Map<string, number>();

  constructor(private readonly limits: ConnectionLimits) {}

  /** Once per socket: check() and hold() in one step. */
  admit(socket: net.Socket, address: string): Admission {
    const key = this.check(address);
    return typeof key === 'string' ? this.hold(socket, key) : key;
  }

  /**
   * Whether a connection from `address` may be admitted now: its refusal, or the key it is
   * counted under, to hold() in the same turn (nothing is counted until then; a plaintext
   * greeting is written in between: session/admission.ts).
   */
  check(address: string): Refusal | string {
    if (this.total >= this.limits.maxTotal) return REFUSED.total;
    if (this.preauth >= this.limits.maxPreauth) return REFUSED.preauth;
    const key = clientKey(address, this.limits.ipv6PrefixBits);
    if ((this.perIp.get(key) ?? 0) >= this.limits.maxPerIp) return REFUSED['per-ip'];
    return key;
  }

  /** Counts an admitted connection (`key` from check() in this turn) until its socket closes; once per socket. */
  hold(socket: net.Socket, key: string): Slot {
    this.total += 1;
    this.preauth += 1;
    this.perIp.set(key, (this.perIp.get(key) ?? 0) + 1);
    const slot = new Slot(this, key);
    // on(), not once(): 'close' comes once, and once() wraps each listener in a bound function
    // and a state object and removes it again, on every connection.
    socket.on('close', slot.release);
    return slot;
  }

  /** A counted connection logged in (its Slot calls this once). */
  preauthEnded(): void {
    this.preauth -= 1;
  }

  /** A counted connection closed (its Slot calls this once). */
  left(ip: string): void {
    this.total -= 1;
    const left = (this.perIp.get(ip) ?? 1) - 1;
    if (left > 0) this.perIp.set(ip, left);
    else this.perIp.delete(ip);
  }

  stats(): { total: number; preauth: number; ips: number } {
    return { total: this.total, preauth: this.preauth, ips: this.perIp.size };
  }
}
