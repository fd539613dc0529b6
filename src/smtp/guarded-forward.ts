// The SMTP splice's forwarding: every byte each way goes through the command guard
// (command-guard.ts), with backpressure as in net/splice.ts. The client is read only while
// the guard is not holding its bytes, Postfix has room for them and the client has taken
// what it was sent (replies of ours included: a client that pipelines refused commands and
// never reads must not grow our buffers).
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { Forwarder } from '../net/splice.js';
import { BULK_READ_BYTES, readsReusableToward, reuseClientReads, type ReadOwner } from '../net/client-reads.js';
import { SmtpCommandGuard } from './command-guard.js';
import { contained } from '../observability/faults.js';

/** Sees what the guard passed on: commands and content to Postfix, Postfix's replies to the client. */
export interface GuardObserver {
  fromClient(chunk: Buffer): void;
  fromServer(chunk: Buffer): void;
}

/** `onFault`: the guard or the observer threw (a bug); both sockets are closed, which ends the
 *  splice, and the fault is reported once. `early`: what the client pipelined behind AUTH
 *  (RFC 4954 §4 allows it); it is checked like every later byte, and before any of them. */
export function guardedForward(observer: GuardObserver, onRefused: (verb: string) => void, onFault: (err: unknown) => void, early: Buffer = Buffer.alloc(0)): Forwarder {
  return (client: Duplex, backend: Duplex) => {
    let faulted = false;
    const fault = (err: unknown): void => {
      if (faulted) return;
      faulted = true;
      onFault(err);
      client.destroy();
      backend.destroy();
    };
    let backendFull = false;
    let clientFull = false;
    const open = (s: Duplex): boolean => !s.writableEnded && !s.destroyed;
    const guard = new SmtpCommandGuard({
      toBackend(chunk) {
        if (!open(backend)) return;
        if (!backend.write(chunk)) backendFull = true;
        observer.fromClient(chunk);
      },
      toClient(chunk, own) {
        if (!open(client)) return true;
        const room = client.write(chunk);
        if (!room) clientFull = true;
        if (!own) observer.fromServer(chunk);
        return room;
      },
      refused: onRefused,
    });
    const gate = (): void => {
      if (clientFull) backend.pause();
      if (guard.holding || backendFull || clientFull) client.pause();
      else client.resume();
    };
    // An upload (DATA content) is read into reused buffers: each is read into again only once
    // the guard keeps none of its bytes and Postfix's socket has taken them.
    const reads: ReadOwner = { settled: () => !guard.keepsClientBytes && backend.writableLength === 0 };
    let tryReuse = readsReusableToward(backend);
    client.on('data', contained((chunk: Buffer) => {
      guard.fromClient(chunk);
      gate();
      if (tryReuse && chunk.length >= BULK_READ_BYTES) tryReuse = !reuseClientReads(client as Socket, reads);
    }, fault));
    // A client's FIN after bytes the guard still holds (a pipelined message after DATA)
    // waits for them; they go once Postfix has answered.
    let end: (() => void) | null = null;
    const passEnd = (): void => {
      if (!end || guard.holding) return;
      const e = end;
      end = null;
      e();
    };
    backend.on('data', contained((chunk: Buffer) => {
      guard.fromBackend(chunk);
      gate();
      passEnd();
    }, fault));
    backend.on('drain', () => {
      backendFull = false;
      gate();
    });
    client.on('drain', contained(() => {
      clientFull = false;
      guard.resume();
      backend.resume();
      gate();
      passEnd();
    }, fault));
    if (early.length) contained(() => { guard.fromClient(early); gate(); }, fault)();
    return {
      passEnd(e) {
        end = e;
        passEnd();
      },
    };
  };
}
