// A line a client can cause at its connection rate (a refused connection costs it one SYN,
// the proxy one warn line): the first per key is written, then at most one per window,
// carrying how many were left out since the key's last line. Metrics still count every
// event; this bounds only the log. Keys are bounded too: past `maxKeys` the key seen least
// recently is forgotten (its next event is written as a first one).

interface Seen {
  at: number;
  suppressed: number;
}

export class LogThrottle {
  private readonly seen = new Map<string, Seen>();

  constructor(
    private readonly windowMs: number,
    private readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether to write the line for `key` now: undefined to leave it out, else the number of
   * lines left out for that key since its last written one.
   */
  pass(key: string): number | undefined {
    const t = this.now();
    const s = this.seen.get(key);
    if (s !== undefined && t - s.at < this.windowMs) {
      s.suppressed += 1;
      return undefined;
    }
    const suppressed = s?.suppressed ?? 0;
    this.seen.delete(key); // re-inserted last: the Map's order is least recent first
    this.seen.set(key, { at: t, suppressed: 0 });
    if (this.seen.size > this.maxKeys) this.seen.delete(this.seen.keys().next().value as string);
    return suppressed;
  }

  get size(): number {
    return this.seen.size;
  }
}
