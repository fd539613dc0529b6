// A session once logged in (IMAP, POP3, ManageSieve): the two sockets and the splice, one
// object that is also the handle shutdown and revocation use. What stays alive of a session
// in IDLE for hours is just this: the session (framer, SASL state, timers) is left to the GC.
import type net from 'node:net';
import { LoggedSplice, passEarly, type SessionSpliceOptions } from './handover.js';
import { closeWhenQuiet } from './drain.js';
import type { LiveSession } from './line-service.js';
import type { SpliceEnd } from '../net/splice.js';

export interface SplicedOptions extends Omit<SessionSpliceOptions, 'forward'> {
  readonly onEnd?: (handle: LiveSession) => void;
  /** The line written when a drain finds the session quiet (IMAP `* BYE`, POP3 `-ERR`, ManageSieve `BYE`). */
  readonly farewell: (text: string) => string;
}

class SplicedSession extends LoggedSplice implements LiveSession {
  declare protected readonly o: SplicedOptions;

  drain(text: string, deadline: number, why?: SpliceEnd): void {
    closeWhenQuiet(this, this.o.farewell(text), deadline, why);
  }

  cut(): void {
    this.close('shutdown');
  }

  protected over(): void {
    this.o.onEnd?.(this);
  }
}

/** `fromClient`: what the client pipelined after its login command (not kept: `o` lives as long as the session). */
export function spliceSession(client: net.Socket, backend: { readonly socket: net.Socket; readonly leftover: Buffer }, fromClient: Buffer, o: SplicedOptions): LiveSession {
  passEarly(client, backend.socket, backend.leftover, fromClient);
  return new SplicedSession(client, backend.socket, o);
}
