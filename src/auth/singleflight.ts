// Concurrent calls with one key share one execution: N clients logging in with the same new
// token at once cause one IdP request, not N.
export class Singleflight<T> {
  private readonly inflight = new Map<string, Promise<T>>();

  run(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) return running;
    const p = Promise.resolve().then(fn).finally(() => { this.inflight.delete(key); });
    this.inflight.set(key, p);
    return p;
  }

  get size(): number {
    return this.inflight.size;
  }
}
