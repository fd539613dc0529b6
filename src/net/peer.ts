// Who is on the other end of a connection, in the form logs and the backend want.
import { randomFillSync } from 'node:crypto';
import type { Socket } from 'node:net';
import { unmapIpv4 } from './ip-address.js';

export interface Peer {
  readonly address: string;
  readonly port: number;
  readonly localAddress: string;
  readonly localPort: number;
}

/** IPv4 clients of a dual-stack listener appear as ::ffff:a.b.c.d; DMS's logs and Fail2Ban want a.b.c.d. */
export function plainAddress(address: string | undefined): string {
  return address ? unmapIpv4(address) : 'unknown';
}

/** One end of a connection: its address as DMS wants it, its port (0: not known). */
export interface End {
  readonly address: string;
  readonly port: number;
}

/** The client's end of `socket` (getpeername). */
export function remoteEnd(socket: Socket): End {
  return { address: plainAddress(socket.remoteAddress), port: socket.remotePort ?? 0 };
}

/** Our end of `socket`, the listener it reached (getsockname); read while the socket is open (its handle is gone once destroyed). */
export function localEnd(socket: Socket): End {
  return { address: plainAddress(socket.localAddress), port: socket.localPort ?? 0 };
}

/**
 * A directly connected client (no PROXY header): the remote end read at once (admission
 * counts and blocks by it), the local end (getsockname) only when first asked, which the
 * listener does after the connection's handler ran: a plaintext greeting is written before
 * that system call, not after it (issue 21: connect → greeting).
 *
 * localAddress and localPort are getters on the prototype: `{ ...peer }`, Object.assign or
 * JSON.stringify copy own fields only, so they lose the local end. Copy a Peer field by field
 * (backend/backend-client.ts; the portal's spread did this: every sign-in that provisioned
 * an account was a 500; test/portal/callback-provision.test.ts). The socket and the local end
 * are # fields: no spread or copy of any kind reaches them.
 */
export class SocketPeer implements Peer {
  readonly address: string;
  readonly port: number;
  readonly #socket: Socket;
  #local: End | null = null;

  constructor(socket: Socket) {
    this.#socket = socket;
    const remote = remoteEnd(socket);
    this.address = remote.address;
    this.port = remote.port;
  }

  get localAddress(): string {
    return (this.#local ??= localEnd(this.#socket)).address;
  }

  get localPort(): number {
    return (this.#local ??= localEnd(this.#socket)).port;
  }

  /** Reads the local end now, while the socket is open (its handle is gone once destroyed). */
  readLocal(): void {
    this.#local ??= localEnd(this.#socket);
  }
}

/** Both ends of `socket`, read now, as plain fields. */
export function peerOf(socket: Socket): Peer {
  const remote = remoteEnd(socket);
  const local = localEnd(socket);
  return { address: remote.address, port: remote.port, localAddress: local.address, localPort: local.port };
}

// randomBytes() per id took ~1 % of the CPU per login (a call into OpenSSL, which also
// checks getpid() each time): ids are cut from a pool of random bytes, refilled when used up.
// The pool is encoded once per refill: 9 bytes are exactly 12 base64url characters, so the
// 12-character slices of the pool's text are the ids a toString() per id made (~1 µs each).
const ID_BYTES = 9;
const ID_CHARS = 12;
const IDS_PER_POOL = 512;
const pool = Buffer.alloc(ID_BYTES * IDS_PER_POOL);
let poolText = '';
let nextId = IDS_PER_POOL;

/** A short random id to correlate our log lines with Dovecot's (sent as x-session-ext-id). */
export function newSessionId(): string {
  if (nextId === IDS_PER_POOL) {
    randomFillSync(pool);
    poolText = pool.toString('base64url');
    nextId = 0;
  }
  const at = nextId++ * ID_CHARS;
  // Shorter than V8's sliced-string minimum (13): a copy, which does not keep the pool text alive.
  return poolText.slice(at, at + ID_CHARS);
}
