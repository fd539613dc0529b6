// The pre-login deadlines of every connection with the same timeout, on one timer (issue 21).
// A setTimeout per connection cost a Timeout object, its closures and a clearTimeout at
// login, on every login. All connections of a queue wait the same time, so their deadlines
// come in the order they were added: a linked list through the connections themselves is
// sorted by deadline, adding and removing are O(1), and one timer armed for the head does for all.
// Each connection still ends at its own deadline, as its own timer ended it before.

/** A connection in a queue: the queue's fields on it, and what ending it means. */
export interface Expiring {
  deadlineAt: number;
  deadlinePrev: Expiring | null;
  deadlineNext: Expiring | null;
  /** In a queue now (a removed or expired one is not). */
  deadlineQueued: boolean;
  /** The deadline passed: called once, after the connection was taken out of its queue. */
  expire(): void;
}

export class DeadlineQueue {
  private head: Expiring | null = null;
  private tail: Expiring | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly sweep = (): void => this.expireDue();

  constructor(private readonly timeoutMs: number, private readonly now: () => number = performance.now.bind(performance)) {}

  add(e: Expiring): void {
    e.deadlineAt = this.now() + this.timeoutMs;
    e.deadlinePrev = this.tail;
    e.deadlineNext = null;
    e.deadlineQueued = true;
    if (this.tail) this.tail.deadlineNext = e;
    else this.head = e;
    this.tail = e;
    if (this.timer === null) this.arm(this.timeoutMs);
  }

  remove(e: Expiring): void {
    if (!e.deadlineQueued) return;
    e.deadlineQueued = false;
    const { deadlinePrev: prev, deadlineNext: next } = e;
    if (prev) prev.deadlineNext = next;
    else this.head = next;
    if (next) next.deadlinePrev = prev;
    else this.tail = prev;
    e.deadlinePrev = null;
    e.deadlineNext = null;
    // The timer is left armed: firing for a removed head finds the next one (or none) and re-arms.
  }

  private arm(delayMs: number): void {
    // Unref'd: an open connection's socket keeps the process running, as its own timer did.
    this.timer = setTimeout(this.sweep, delayMs).unref();
  }

  private expireDue(): void {
    this.timer = null;
    // Node fires a timer when its millisecond loop clock reaches the delay; a fraction of a
    // millisecond on the precise clock still counts as due.
    const t = this.now() + 1;
    for (let e = this.head; e !== null && e.deadlineAt <= t; e = this.head) {
      this.remove(e);
      e.expire(); // contains its own faults (session/connection.ts)
    }
    const next = this.head;
    if (next !== null && this.timer === null) this.arm(Math.max(1, Math.ceil(next.deadlineAt - this.now())));
  }
}

const queues = new Map<number, DeadlineQueue>();

/** The process's queue for connections that wait `timeoutMs` (one per configured pre-login timeout). */
export function deadlineQueue(timeoutMs: number): DeadlineQueue {
  let q = queues.get(timeoutMs);
  if (!q) {
    q = new DeadlineQueue(timeoutMs);
    queues.set(timeoutMs, q);
  }
  return q;
}
