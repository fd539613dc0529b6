// Reads CRLF-terminated lines from a backend socket during the short login dialogue.
// Bounded, and detachable: whatever arrived after the last line read is handed on to the
// splice, so no byte from the backend is lost or reordered.
import type { Socket } from 'node:net';
import { BackendError } from './dial.js';
import { contained } from '../observability/faults.js';
import { hold } from '../net/reused-reads.js';
import { MAX_BACKEND_LINE_BYTES } from '../limits.js';

export class LineReader {
  private buffer: Buffer = Buffer.alloc(0);
  private waiter: { resolve: (line: string) => void; reject: (err: Error) => void } | null = null;
  private failure: Error | null = null;
  // A throw here would escape the socket's 'data' event (and end the process): it fails
  // this login instead.
  private readonly onData = contained((chunk: Buffer): void => {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    this.pump();
  }, (err) => this.fail(new BackendError('ERR_BACKEND_PROTOCOL', `reading the backend failed: ${(err as Error).message}`, { cause: err })));
  private readonly onEnd = (): void => this.fail(new BackendError('ERR_BACKEND_CLOSED', 'backend closed the connection during login'));
  private readonly onError = (err: Error): void => this.fail(new BackendError('ERR_BACKEND_CLOSED', `backend connection failed during login: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }));

  constructor(private readonly socket: Socket) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  readLine(): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.pump();
    });
  }

  /** Stops reading; returns the bytes received beyond the last line. */
  detach(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    if (!hold(this.socket)) this.socket.pause();
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    return rest;
  }

  fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(this.failure);
  }

  private pump(): void {
    if (!this.waiter) return;
    const lf = this.buffer.indexOf(0x0a);
    if (lf < 0) {
      if (this.buffer.length > MAX_BACKEND_LINE_BYTES) this.fail(new BackendError('ERR_BACKEND_PROTOCOL', 'backend sent an over-long line'));
      return;
    }
    const end = lf > 0 && this.buffer[lf - 1] === 0x0d ? lf - 1 : lf;
    const line = this.buffer.subarray(0, end).toString('utf8');
    this.buffer = this.buffer.subarray(lf + 1);
    const w = this.waiter;
    this.waiter = null;
    w.resolve(line);
  }
}
