// The command loop of a line protocol whose commands may carry literals (IMAP, and ManageSieve,
// which frames its input the IMAP way:
// the same `{n}`/`{n+}` framing, RFC 9051 §4.3 and RFC 5804 §4): the framer, one command at a
// time (nothing more is read while a handler awaits the IdP or DMS), back-pressure, a client
// response awaited during a SASL exchange, and the bad-command budget. The protocol decides
// what each event means and how a refusal is worded.
import { contained } from '../observability/faults.js';
import { SaslError } from '../auth/sasl/index.js';
import { ImapFramer, type FramerEvent } from './framer.js';
import { PreauthConnection } from '../session/connection.js';

/** A browser or scanner speaking HTTP to a mail port (cross-protocol attacks): ended at once. */
export const HTTP_REQUEST = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|TRACE|CONNECT|PATCH) \S+ HTTP\/\d\.\d$/i;

export abstract class FramedConnection extends PreauthConnection {
  protected abstract readonly framer: ImapFramer;
  private busy = false;
  private waiter: { resolve: (response: Buffer | null) => void; reject: (err: Error) => void } | null = null;
  private badCommands = 0;

  /** A command (or, in 'line' mode, a line) with no response awaited. */
  protected abstract dispatch(ev: FramerEvent): void;
  /** The event that answers an awaited response: resolve or reject `waiter`. */
  protected abstract deliverResponse(ev: FramerEvent, waiter: { resolve: (r: Buffer | null) => void; reject: (err: Error) => void }): void;
  /** A synchronizing literal was accepted (IMAP sends `+`; ManageSieve has no such step). */
  protected abstract literalAccepted(): void;

  protected received(chunk: Buffer): void {
    this.framer.push(chunk);
    this.pump();
  }

  protected override abandon(): void {
    this.waiter?.reject(new SaslError('ERR_SASL_SYNTAX', 'session closed'));
  }

  protected pump(): void {
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
      if (ev.type === 'literal-continue') {
        this.literalAccepted();
        continue;
      }
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
    result
      .catch(contained((err: unknown) => {
        bug();
        this.fault(name, err);
      }, (err) => this.fault(name, err)))
      .finally(contained(() => {
        this.busy = false;
        if (this.state !== 'preauth') return;
        this.socket.resume();
        this.pump();
      }, (err) => this.fault('data', err)));
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
}
