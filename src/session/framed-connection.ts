// The command loop of a line protocol the proxy frames itself (IMAP, POP3, ManageSieve): the
// protocol's framer, one command at a time (nothing more is read while a handler awaits the
// IdP or DMS), back-pressure, a client response awaited during a SASL exchange, the
// bad-command budget, and the splice once logged in. The protocol passes its framer in and
// decides what each event means and how a refusal is worded.
import { contained } from '../observability/faults.js';
import { SaslError } from '../auth/sasl/index.js';
import { PreauthConnection } from './connection.js';
import type { LoginOutcome } from './login-outcome.js';
import type { LiveSession } from './line-service.js';
import { spliceSession } from './spliced.js';
import { SessionLogin, type LoginParts } from './login.js';
import type { BackendClient } from '../backend/login-result.js';
import { backendClientOf } from '../backend/backend-client.js';

/** A bounded framer: socket bytes in, events (commands, lines, errors) out; no I/O. */
export interface Framer<E> {
  push(chunk: Buffer): void;
  /** The next event, or null until more bytes come. */
  next(): E | null;
  /** Throws away what the client sent so far (plaintext pipelined before a TLS upgrade). */
  discard(): void;
  /** Bytes received beyond the last event taken (pipelined after a login): for the backend. */
  takeRemaining(): Buffer;
}

export interface ResponseWaiter {
  resolve(response: Buffer | null): void;
  reject(err: Error): void;
}

/** What the loop needs to splice a logged-in session and tell its service. */
export interface SpliceHooks {
  readonly idleTimeoutMs: number;
  readonly onEnd?: (h: LiveSession) => void;
  readonly onSpliced?: (session: LiveSession, handle: LiveSession, user: string, appPassword?: string) => void;
}

export abstract class FramedConnection<E> extends PreauthConnection implements LiveSession {
  protected abstract readonly framer: Framer<E>;
  private busy = false;
  private pumping = false;
  private waiter: ResponseWaiter | null = null;
  private badCommands = 0;

  /** A command (or a line) with no response awaited. */
  protected abstract dispatch(ev: E): void;
  /** The event that answers an awaited response: resolve or reject `waiter`. */
  protected abstract deliverResponse(ev: E, waiter: ResponseWaiter): void;
  /** An event the loop handles itself, before a waiter or dispatch sees it (IMAP's `+` for a literal): true if taken. */
  protected intercepted(_ev: E): boolean {
    return false;
  }

  /**
   * The login flow of this connection: DMS learns the client as the connection sees it at
   * login time (after STARTTLS, say), and a reply is due only while it is before login.
   * `idFields`: what the client said in IMAP ID.
   */
  protected newLogin<X>(parts: LoginParts<X>, loggedIn?: () => void, idFields?: () => BackendClient['idFields']): SessionLogin<X> {
    return new SessionLogin(parts, {
      log: this.log,
      backendClient: () => backendClientOf(this.peer, this.secure, this.id, idFields?.()),
      gone: () => this.state !== 'preauth',
      loggedIn,
    });
  }

  protected greeted(): void {
    this.pump(); // commands the client sent before its greeting was out
  }

  protected received(chunk: Buffer): void {
    this.framer.push(chunk);
    this.pump();
  }

  protected override abandon(): void {
    this.waiter?.reject(new SaslError('ERR_SASL_SYNTAX', 'session closed'));
  }

  protected pump(): void {
    this.pumping = true;
    try {
      this.pumpEvents();
    } finally {
      this.pumping = false;
    }
  }

  private pumpEvents(): void {
    while (this.state === 'preauth') {
      if (this.busy && !this.waiter) {
        this.socket.pause(); // bounded: nothing more is read until the handler is done
        return;
      }
      const waitingForClient = this.mustWaitForDrain((socket) => {
        if (!this.busy || this.waiter) socket.resume();
        this.pump();
      });
      if (waitingForClient) return;
      const ev = this.framer.next();
      if (!ev) return;
      if (this.intercepted(ev)) continue;
      const waiter = this.waiter;
      this.waiter = null;
      if (waiter) this.deliverResponse(ev, waiter);
      else this.dispatch(ev);
    }
  }

  /**
   * A handler's promise: nothing more is read until it settles. A rejection is our bug, not
   * an IdP or backend outage (those are answered inside): `bug` words it, then the session ends.
   */
  protected runHandler(name: string, result: Promise<void>, bug: () => void): void {
    this.busy = true;
    // One then() with two callbacks: catch() and finally() made three promises and a
    // handful of closures per command (issue 21). Neither callback throws, so the promise
    // then() returns never rejects.
    result.then(() => this.handlerDone(), (err: unknown) => this.handlerFailed(name, err, bug));
  }

  /** A handler with no promise (an IMAP login settling a callback): it ends in handlerDone() or handlerFailed(). */
  protected handlerStarted(): void {
    this.busy = true;
  }

  /** A handler's bug: `bug` words it, the session ends. Never throws. */
  protected handlerFailed(name: string, err: unknown, bug: () => void): void {
    try {
      bug();
      this.fault(name, err);
    } catch (again) {
      this.faultContained(name, again);
    }
    this.handlerDone();
  }

  /**
   * A handler settled: reading goes on, unless the session is no longer before login. Never
   * throws. A handler may settle inside pump() (a login decided at once): the loop there goes on.
   */
  protected handlerDone(): void {
    try {
      this.busy = false;
      if (this.state !== 'preauth') return;
      this.socket.resume();
      if (!this.pumping) this.pump();
    } catch (err) {
      this.faultContained('data', err);
    }
  }

  /** Sends `prompt` (a SASL challenge in the protocol's form) and awaits the client's response. */
  protected awaitResponse(prompt: string): Promise<Buffer | null> {
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.send(prompt);
      this.socket.resume();
      setImmediate(contained(() => this.pump(), (err) => this.fault('data', err))); // responses may already be buffered
    });
  }

  /** Counts an invalid command; past `max` the session ends with `text`. */
  protected countBad(max: number, text: string): void {
    this.badCommands += 1;
    if (this.badCommands >= max) this.close(text, 'too-many-bad-commands');
  }

  /**
   * Logged in: `reply` to the client, what it pipelined to the backend, then the splice. From
   * now on a small handle stands for this session; `farewell` words the drain's last line.
   */
  protected spliceLoggedIn(o: Extract<LoginOutcome<object>, { kind: 'ok' }>, reply: string, farewell: (text: string) => string, hooks: SpliceHooks): void {
    const remaining = this.framer.takeRemaining();
    const client = this.handOff();
    client.write(reply);
    const handle = spliceSession(client, o.backend, remaining, {
      idleTimeoutMs: hooks.idleTimeoutMs,
      log: this.log,
      user: o.user,
      mech: o.mech,
      startedAt: this.startedAt,
      onEnd: hooks.onEnd,
      farewell,
    });
    hooks.onSpliced?.(this, handle, o.user, o.appPassword);
  }

  drain(text: string): void {
    this.close(text, 'shutdown');
  }

  cut(text: string): void {
    this.close(text, 'shutdown');
  }
}
