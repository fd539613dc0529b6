// Closing a spliced IMAP session at shutdown without parsing its traffic (no per-chunk
// cost on IMAP splices): the proxy may only write `* BYE` between two server responses.
// It takes a session as being between responses when nothing has moved either way for
// DRAIN_QUIET_MS and nothing is queued towards either side: a client in IDLE, or one that
// is simply connected and waiting. Dovecot writes a response in one go, so a pause that
// long inside one is not expected; a session still busy at the deadline is cut without
// BYE (its client reconnects, as after any network drop).
//
// The socket byte counters are sampled on a timer only while draining.
import type { Socket } from 'node:net';
import type { Splice, SpliceEnd } from './splice.js';

export const DRAIN_QUIET_MS = 1000;
const SAMPLE_MS = 100;

export interface DrainTarget {
  readonly client: Socket;
  readonly backend: Socket;
  readonly splice: Splice;
}

/** Sends `farewell` and closes both sides once the session is quiet, or cuts it at `deadline` (epoch ms); `why` is logged as how it ended. */
export function closeWhenQuiet(t: DrainTarget, farewell: string, deadline: number, why: SpliceEnd = 'shutdown', quietMs = DRAIN_QUIET_MS): void {
  const { client, backend, splice } = t;
  const moved = (): number => client.bytesRead + client.bytesWritten + backend.bytesRead + backend.bytesWritten;
  let last = moved();
  let quietSince = Date.now();
  const timer = setInterval(() => {
    if (client.destroyed && backend.destroyed) return clearInterval(timer);
    const now = Date.now();
    const m = moved();
    if (m !== last || client.writableLength > 0 || backend.writableLength > 0) {
      last = m;
      quietSince = now;
    } else if (now - quietSince >= quietMs) {
      clearInterval(timer);
      // Nothing more from the backend may follow the BYE.
      splice.stop(why);
      client.end(farewell);
      backend.end();
      setTimeout(() => splice.close(why), 2000).unref();
      return;
    }
    if (now >= deadline) {
      clearInterval(timer);
      splice.close(why);
    }
  }, SAMPLE_MS);
  timer.unref();
}
