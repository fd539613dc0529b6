// A session once logged in (IMAP, POP3, ManageSieve): the two sockets, the splice and a small
// handle that shutdown and revocation use. What stays alive of a session in IDLE for hours is
// just this: the session (framer, SASL state, timers) is left to the GC.
import type net from 'node:net';
import { handOver, type HandoverOptions } from './handover.js';
import { closeWhenQuiet } from './drain.js';
import type { LiveSession } from './line-service.js';

export interface SplicedOptions extends Omit<HandoverOptions, 'fromBackend' | 'onEnd' | 'forward'> {
  readonly onEnd: (handle: LiveSession) => void;
}

/** `farewell(text)` is the line written when a drain finds the session quiet (IMAP `* BYE`, POP3 `-ERR`, ManageSieve `BYE`). */
export function spliceSession(client: net.Socket, backend: { readonly socket: net.Socket; readonly leftover: Buffer }, farewell: (text: string) => string, o: SplicedOptions): LiveSession {
  const handle: LiveSession = {
    drain: (text, deadline, why) => closeWhenQuiet({ client, backend: backend.socket, splice: s }, farewell(text), deadline, why),
    cut: () => s.close('shutdown'),
  };
  const s = handOver(client, backend.socket, {
    fromBackend: backend.leftover, fromClient: o.fromClient, idleTimeoutMs: o.idleTimeoutMs, log: o.log, user: o.user, mech: o.mech, startedAt: o.startedAt,
    onEnd: () => o.onEnd(handle),
  });
  return handle;
}
