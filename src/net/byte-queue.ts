// The framer's input buffer. Kept apart from the framer: it knows bytes, not IMAP.

/**
 * Growable byte queue: appends are amortised O(1) (capacity doubles and
 * compaction leaves at least half free), consumption just moves `start`.
 */
// Shared by every empty queue: nothing is ever written into zero bytes.
const EMPTY = Buffer.alloc(0);
/** Smallest buffer a queue grows to. */
const MIN_CAPACITY = 512;

export class ByteQueue {
  #data = EMPTY;
  #start = 0;
  #end = 0;

  get length(): number {
    return this.#end - this.#start;
  }

  /** Zero-copy view of [from, to) relative to the first unconsumed byte; valid until the next append. */
  view(from: number, to: number): Buffer {
    return this.#data.subarray(this.#start + from, this.#start + to);
  }

  indexOf(byte: number): number {
    return this.view(0, this.length).indexOf(byte);
  }

  append(chunk: Buffer): void {
    if (this.#end + chunk.length > this.#data.length) {
      const used = this.length;
      const needed = used + chunk.length;
      if (needed * 2 > this.#data.length) {
        // Under 4 KiB this comes from Node's shared pool: the first command of a connection
        // (a login line of ~1 KiB) no longer costs a 4 KiB allocation of its own (issue 21).
        const grown = Buffer.allocUnsafe(Math.max(needed * 2, MIN_CAPACITY));
        this.#data.copy(grown, 0, this.#start, this.#end);
        this.#data = grown;
      } else {
        this.#data.copy(this.#data, 0, this.#start, this.#end);
      }
      this.#start = 0;
      this.#end = used;
    }
    chunk.copy(this.#data, this.#end);
    this.#end += chunk.length;
  }

  consume(n: number): void {
    this.#start += n;
    if (this.#start === this.#end) this.#reset();
  }

  clear(): void {
    this.#reset();
  }

  /** Empties the queue and gives its memory back. */
  release(): void {
    this.#reset();
    this.#data = EMPTY;
  }

  #reset(): void {
    this.#start = 0;
    this.#end = 0;
    // Do not keep a large buffer around after a burst.
    if (this.#data.length > 64 * 1024) this.#data = EMPTY;
  }
}
