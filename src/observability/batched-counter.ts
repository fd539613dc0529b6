// prom-client hashes a counter's labels into a string on every inc() (0.3-0.5 µs warm, and
// ~0.3 KiB of garbage): three such incs per login (issue 21). A cell keeps one label set's
// count as a plain number; the counter gets what was added when the registry is scraped
// (its collect()), so /metrics shows the same totals.
import type { Counter } from 'prom-client';

export class CounterCell<L extends string> {
  n = 0;
  constructor(readonly labels: Readonly<Record<L, string>>) {}
}

/** The cells of one counter, each made on first use. */
export class CounterCells<L extends string> {
  private readonly all: Array<CounterCell<L>> = [];

  add(labels: Readonly<Record<L, string>>): CounterCell<L> {
    const c = new CounterCell(labels);
    this.all.push(c);
    return c;
  }

  /** For the counter's collect(): what was counted since the last scrape. */
  flush(into: Pick<Counter<L>, 'inc'>): void {
    for (const c of this.all) {
      if (c.n === 0) continue;
      into.inc(c.labels as Partial<Record<L, string>>, c.n);
      c.n = 0;
    }
  }
}
