// A POP3 session once logged in: the two sockets, the splice and a small handle that shutdown
// and revocation use. POP3 has no unsolicited responses; when the session is quiet the proxy
// writes `-ERR <text>` and closes, as Dovecot's pop3 does when it ends a session itself. A
// session closed without QUIT never reaches the UPDATE state (RFC 1939 §6): no message the
// client marked is deleted.
import type net from 'node:net';
import { handOver, type HandoverOptions } from '../session/handover.js';
import { closeWhenQuiet } from '../session/drain.js';
import type { LiveSession } from '../session/line-service.js';
import { err } from './replies.js';

export interface SplicedPop3Options extends Omit<HandoverOptions, 'fromBackend' | 'onEnd' | 'forward'> {
  readonly onEnd: (handle: LiveSession) => void;
}

export function splicePop3(client: net.Socket, backend: { readonly socket: net.Socket; readonly leftover: Buffer }, o: SplicedPop3Options): LiveSession {
  const handle: LiveSession = {
    drain: (text, deadline, why) => closeWhenQuiet({ client, backend: backend.socket, splice: s }, err(text), deadline, why),
    cut: () => s.close('shutdown'),
  };
  const s = handOver(client, backend.socket, { ...o, fromBackend: backend.leftover, onEnd: () => o.onEnd(handle) });
  return handle;
}
