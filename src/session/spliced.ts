// An IMAP session once logged in: the two sockets, the splice and a small handle that
// shutdown and revocation use. What stays alive of a session in IDLE for hours is just this:
// the session (framer, SASL state, timers) is left to the GC.
import type net from 'node:net';
import { handOver, type HandoverOptions } from '../session/handover.js';
import type { SpliceEnd } from '../net/splice.js';
import { closeWhenQuiet } from '../session/drain.js';
import { untagged } from './replies.js';

/** What the service keeps of a connection, to end it at shutdown. */
export interface SessionHandle {
  /** Graceful: BYE before login; once spliced, `* BYE` when the session is quiet, cut at `deadline`; `why` is logged. */
  drain(text: string, deadline: number, why?: SpliceEnd): void;
  /** At once. */
  cut(text: string): void;
}

export interface SplicedImapOptions extends Omit<HandoverOptions, 'fromBackend' | 'onEnd' | 'forward'> {
  readonly onEnd: (handle: SessionHandle) => void;
}

export function spliceImap(client: net.Socket, backend: { readonly socket: net.Socket; readonly leftover: Buffer }, o: SplicedImapOptions): SessionHandle {
  const handle: SessionHandle = {
    drain: (text, deadline, why) => closeWhenQuiet({ client, backend: backend.socket, splice: s }, untagged(`BYE ${text}`), deadline, why),
    cut: () => s.close('shutdown'),
  };
  const s = handOver(client, backend.socket, { ...o, fromBackend: backend.leftover, onEnd: () => o.onEnd(handle) });
  return handle;
}
