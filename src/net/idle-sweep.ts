// The idle timeout of spliced sessions, one sweep per timeout length for all of them.
// socket.setTimeout() gave each session a Timeout, a bound function and a 'timeout' listener,
// and every read and write re-armed it (Timeout.refresh(): a libuv clock read and a move in
// the timer list), all per login (issue 21). A session is quiet when its client socket's byte
// counters have not moved (the client side sees both directions: what the client sends, and
// the backend's bytes as they are written to it); the sweep runs IDLE_CHECKS_PER_TIMEOUT
// times per timeout and closes a session after that many sweeps in a row found it quiet, so
// between 1 and 1 + 1/IDLE_CHECKS_PER_TIMEOUT timeouts after its last byte, never sooner
// (IMAP IDLE: RFC 2177 §3 has clients re-issue IDLE within 29 minutes of a 30-minute timeout).
import { IDLE_CHECKS_PER_TIMEOUT } from '../limits.js';

/** What the sweep keeps per session: its fields, so a session costs no object of its own. */
export interface IdleWatched {
  readonly client: { readonly bytesRead: number; readonly bytesWritten: number };
  /** The counters' sum at the last sweep (-1: not swept yet). */
  idleSeen: number;
  /** Sweeps in a row that found it quiet. */
  idleSweeps: number;
  /** Quiet for a whole timeout: close it. */
  idleTimedOut(): void;
}

export class IdleSweep {
  private readonly watched = new Set<IdleWatched>();
  private timer: NodeJS.Timeout | null = null;
  private readonly everyMs: number;

  constructor(timeoutMs: number) {
    this.everyMs = Math.max(1, Math.ceil(timeoutMs / IDLE_CHECKS_PER_TIMEOUT));
  }

  add(w: IdleWatched): void {
    w.idleSeen = -1; // the first sweep only takes note: a full timeout counts from it
    w.idleSweeps = 0;
    this.watched.add(w);
    if (this.timer === null) {
      this.timer = setInterval(() => this.sweep(), this.everyMs);
      this.timer.unref();
    }
  }

  delete(w: IdleWatched): void {
    this.watched.delete(w);
  }

  private sweep(): void {
    if (this.watched.size === 0) {
      // Stopped here, not in delete(): a login after the last session's end reuses the timer.
      clearInterval(this.timer!);
      this.timer = null;
      return;
    }
    for (const w of this.watched) {
      const seen = w.client.bytesRead + w.client.bytesWritten;
      if (seen !== w.idleSeen) {
        w.idleSeen = seen;
        w.idleSweeps = 0;
      } else if (++w.idleSweeps >= IDLE_CHECKS_PER_TIMEOUT) {
        this.watched.delete(w);
        w.idleTimedOut();
      }
    }
  }
}

const sweeps = new Map<number, IdleSweep>();

/** The sweep for sessions with this idle timeout (one per configured length). */
export function idleSweep(timeoutMs: number): IdleSweep {
  let s = sweeps.get(timeoutMs);
  if (!s) sweeps.set(timeoutMs, (s = new IdleSweep(timeoutMs)));
  return s;
}
