// The listeners and live sessions of a protocol the proxy frames itself (IMAP, POP3,
// ManageSieve): admission at the door, one registry of sessions (revocation, shutdown), the
// sessions_active gauge. The protocol module supplies only its session and its words.
import type net from 'node:net';
import { listen, listenAll } from '../net/listen.js';
import type { Peer } from '../net/peer.js';
import type { ListenAddress } from '../config/types.js';
import { metrics, type Protocol } from '../observability/metrics.js';
import type { SpliceEnd } from '../net/splice.js';
import { admit } from './admission.js';
import { SessionRegistry } from './registry.js';
import { bounded, until } from './waits.js';
import type { Service, SharedParts } from './parts.js';
import { REFUSAL_CLOSE_MS } from '../limits.js';

/** What the registry keeps of a session: before login the session itself, after it a small handle. */
export interface LiveSession {
  /** Graceful: before login a farewell now; once spliced, at the next safe point, cut at `deadline`; `why` is logged. */
  drain(text: string, deadline: number, why?: SpliceEnd): void;
  /** At once. */
  cut(text: string): void;
}

/** How a session reports back to its service. */
export interface SessionHooks<H extends LiveSession> {
  /** Tells the connection limits this connection is no longer before login. */
  readonly loggedIn: () => void;
  /** The connection ended; `h` is the session, or its handle once spliced. */
  readonly onEnd: (h: H) => void;
  /** Logged in as `user` (with the app password of id `appPassword`): from now on `handle` stands for `session`. */
  readonly onSpliced: (session: H, handle: H, user: string, appPassword?: string) => void;
}

export interface LineServiceSpec<H extends LiveSession> {
  readonly protocol: Protocol;
  readonly listeners: ReadonlyArray<{ readonly name: string; readonly at: ListenAddress | null; readonly implicitTls: boolean }>;
  /** The line a refused client gets on a plaintext listener (implicit TLS: no handshake is spent, the connection just closes). */
  refusal(text: string): string;
  /** `revoked`: the user was disabled or deleted; `appPassword`: the app password of the session was revoked. */
  readonly texts: { readonly shutdown: string; readonly revoked: string; readonly appPassword: string };
  /** A new session for an admitted connection; the service starts it. */
  create(socket: net.Socket, implicitTls: boolean, peer: Peer, hooks: SessionHooks<H>): H & { start(greeted?: boolean): void };
  /**
   * The greeting of a connection on a plaintext listener, written at admission, before the
   * session is built: building it then overlaps the client's reading the greeting (issue 21:
   * connect → greeting was 0.55 ms against 0.29 for a lean Node login). Implicit TLS: the
   * session greets after the handshake.
   */
  plaintextGreeting(): string;
}

export async function startLineService<H extends LiveSession>(p: SharedParts, spec: LineServiceSpec<H>): Promise<Service> {
  const { log } = p;
  const registry = new SessionRegistry<H>(spec.protocol, p, log, (h, deadline, cause) => h.drain(cause === 'disabled' ? spec.texts.revoked : spec.texts.appPassword, deadline, 'revoked'));
  const onEnd = (h: H): void => registry.ended(h);
  const onSpliced = (session: H, handle: H, user: string, appPassword?: string): void => registry.spliced(session, handle, user, appPassword);
  const hooks = (loggedIn: () => void): SessionHooks<H> => ({ loggedIn, onEnd, onSpliced });
  const accept = (implicitTls: boolean) => (socket: net.Socket, peer: Peer): void => {
    const a = admit(p, socket, peer, implicitTls ? undefined : spec.plaintextGreeting());
    if (typeof a === 'string') {
      if (!implicitTls) socket.end(spec.refusal(a));
      else socket.destroy();
      setTimeout(() => socket.destroy(), REFUSAL_CLOSE_MS).unref();
      return;
    }
    const session = spec.create(socket, implicitTls, peer, hooks(a.loggedIn));
    registry.add(session);
    session.start(!implicitTls);
  };
  const opts = { proxy: p.proxyIn, faults: { log, site: spec.protocol } };
  const listeners = await listenAll(spec.listeners.map((l) => (l.at ? () => listen(l.name, l.at!, accept(l.implicitTls), opts) : undefined)))
    .catch((err: unknown) => { registry.close(); throw err; });
  const untrack = metrics.trackSessions(spec.protocol, () => registry.size);
  const service: Service = {
    listeners,
    async drain(deadline) {
      const closing = Promise.all(listeners.map((l) => l.close())); // stop accepting
      for (const s of registry.all()) s.drain(spec.texts.shutdown, deadline);
      await until(() => registry.size === 0, deadline);
      await service.close();
      await closing;
    },
    async close() {
      untrack();
      registry.close();
      const closing = Promise.all(listeners.map((l) => l.close()));
      for (const s of registry.all()) s.cut(spec.texts.shutdown);
      for (const l of listeners) l.destroyConnections(); // clients that did not close after their farewell
      await bounded(closing);
    },
  };
  return service;
}
