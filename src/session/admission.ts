// The door for every new connection, any protocol: a blocked IP (too many failed logins)
// or a connection over the limits is refused before any session state is built.
import type net from 'node:net';
import type { Peer } from '../net/peer.js';
import type { ConnectionLimiter, Slot } from '../net/connection-limits.js';
import type { LoginGuard } from '../auth/login-guard.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { LogThrottle } from '../observability/log-throttle.js';
import { REFUSAL_LOG_MAX_CLIENTS, REFUSAL_LOG_WINDOW_MS } from '../limits.js';

export interface Admission {
  /** Failed-login counting and blocks, per IP and user, across every protocol. */
  readonly guard: LoginGuard;
  /** Open connections in total, per IP, and before login, across all listeners. */
  readonly connections: ConnectionLimiter;
  readonly log: Logger;
  /** The connection-refused lines, bounded (refusalLog()): one per listener family, as the limits are. */
  readonly refusals: LogThrottle;
}

/** A bound for connection-refused lines: see REFUSAL_LOG_WINDOW_MS. */
export function refusalLog(): LogThrottle {
  return new LogThrottle(REFUSAL_LOG_WINDOW_MS, REFUSAL_LOG_MAX_CLIENTS);
}

/**
 * A refusal text for the client, or the admitted connection's login hook. `greeting` is
 * written once the connection is known to be admitted, before its bookkeeping (issue 21:
 * connect → greeting): a refused client never gets it.
 */
export function admit(p: Admission, socket: net.Socket, peer: Peer, greeting?: string): string | Slot {
  const verdict = p.guard.blocked(peer.address);
  if (verdict.blocked) {
    metrics.connectionsRefused.inc({ reason: 'ip-blocked' });
    const suppressed = p.refusals.pass(`ip-blocked ${peer.address}`);
    if (suppressed !== undefined) p.log.warn({ event: 'connection-refused', client: peer.address, reason: 'ip-blocked', retryAfterMs: verdict.retryAfterMs, ...ifAny(suppressed) }, 'connection from a blocked IP');
    return 'Too many failed logins, try again later.';
  }
  return withinLimits(p, socket, peer.address, greeting);
}

/**
 * The connection-limit half of admit(), for a listener with limits of its own and no logins
 * to block (the portal): the refusal text, counted and logged, or the connection's Slot.
 */
export function withinLimits(p: Pick<Admission, 'connections' | 'log' | 'refusals'>, socket: net.Socket, address: string, greeting?: string): string | Slot {
  const key = p.connections.check(address);
  if (typeof key !== 'string') {
    metrics.connectionsRefused.inc({ reason: key.reason });
    // per-ip: one line per client; total and preauth are global: one line for all clients
    const suppressed = p.refusals.pass(key.reason === 'per-ip' ? `per-ip ${address}` : key.reason);
    if (suppressed !== undefined) p.log.warn({ event: 'connection-refused', client: address, reason: key.reason, ...ifAny(suppressed) }, 'connection limit reached');
    return 'Too many connections, try again later.';
  }
  if (greeting !== undefined) socket.write(greeting);
  return p.connections.hold(socket, key);
}

function ifAny(suppressed: number): { suppressed?: number } {
  return suppressed > 0 ? { suppressed } : {};
}
