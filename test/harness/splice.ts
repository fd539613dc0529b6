// The splice (src/net/splice.ts) with its end as a promise, for tests that drive it directly.
import type net from 'node:net';
import { Splice, type SpliceResult } from '../../src/net/splice.js';

export class AwaitedSplice extends Splice {
  readonly done: Promise<SpliceResult>;
  private resolve!: (r: SpliceResult) => void;

  constructor(client: net.Socket, backend: net.Socket, opts: { idleTimeoutMs: number }) {
    super(client, backend, opts.idleTimeoutMs);
    this.done = new Promise((r) => (this.resolve = r));
  }

  protected ended(r: SpliceResult): void {
    this.resolve(r);
  }
}

export const splice = (client: net.Socket, backend: net.Socket, opts: { idleTimeoutMs: number }): AwaitedSplice => new AwaitedSplice(client, backend, opts);
