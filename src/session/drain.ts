// Closing a spliced IMAP session at shutdown without parsing its traffic (no per-chunk
// cost on IMAP splices): the proxy may only write `* BYE` between two server responses.
// It takes a session as being between responses when nothing has moved either way for
// DRAIN_QUIET_MS and nothing is queued towards either side: a client in IDLE, or one that
// is simply connected and waiting. Dovecot writes a response in one go, so a pause that
// long inside one is not expected; a session still busy at the deadline is cut without
// BYE (its client reconnects, as after any network drop).
//
// The socket byte counters are sampled on a timer only while draining.
import type { Splice, SpliceEnd } from '../net/splice.js';
import { DRAIN_QUIET_MS, DRAIN_SAMPLE_MS, POLITE_CLOSE_MS } from '../limits.js';

/**
 * Our last word is written: the client gets POLITE_CLOSE_MS to close its side, but never past
 * `deadline` (epoch ms), which is what the operator's grace allows; then both sides are closed.
 */
export function closeAfterFarewell(splice: Splice, deadline: number, why: SpliceEnd): void {
  setTimeout(() => splice.close(why), Math.min(POLITE_CLOSE_MS, Math.max(0, deadline - Date.now()))).unref();
}

/** Sends `farewell` and closes both sides once the session is quiet, or cuts it at `deadline` (epoch ms); `why` is logged as how it ended. */
export function closeWhenQuiet(splice: Splice, farewell: string, deadline: number, why: SpliceEnd = 'shutdown', quietMs = DRAIN_QUIET_MS): void {
  const { client, backend } = splice;
  const moved = (): number => client.bytesRead + client.bytesWritten + backend.bytesRead + backend.bytesWritten;
  let last = moved();
  let quietSince = Date.now();
  // The cut is its own timer, not a sample: it lands on the deadline, not up to DRAIN_SAMPLE_MS after.
  const cut = setTimeout(() => {
    clearInterval(timer);
    splice.close(why);
  }, Math.max(0, deadline - Date.now()));
  cut.unref();
  const timer = setInterval(() => {
    if (client.destroyed && backend.destroyed) {
      clearTimeout(cut);
      clearInterval(timer);
      return;
    }
    const now = Date.now();
    const m = moved();
    if (m !== last || client.writableLength > 0 || backend.writableLength > 0) {
      last = m;
      quietSince = now;
    } else if (now - quietSince >= quietMs) {
      clearTimeout(cut);
      clearInterval(timer);
      // Nothing more from the backend may follow the BYE.
      splice.stop(why);
      client.end(farewell);
      backend.end();
      closeAfterFarewell(splice, deadline, why);
    }
  }, DRAIN_SAMPLE_MS);
  timer.unref();
}
