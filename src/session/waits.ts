// Bounded waits for shutdown and drain: no peer that never closes may hold them.
import { CLOSE_STEP_MAX_MS, SHUTDOWN_POLL_MS } from '../limits.js';

/** Resolves once `done()` is true or at `deadline` (epoch ms), polling every SHUTDOWN_POLL_MS. */
export async function until(done: () => boolean, deadline: number): Promise<void> {
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, Math.min(SHUTDOWN_POLL_MS, Math.max(1, deadline - Date.now()))));
}

/** Waits for `p`, but no longer than `ms`: a peer that never closes must not hold a shutdown. */
export async function bounded(p: Promise<unknown>, ms = CLOSE_STEP_MAX_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((r) => { timer = setTimeout(r, ms); timer.unref(); })]);
  clearTimeout(timer);
}
