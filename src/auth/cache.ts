// A bounded LRU map with a per-entry expiry, for token decisions. Keys are SHA-256 digests of
// tokens (tokenKey): a heap dump or a debugger shows no usable credential. A Map keeps
// insertion order, so re-inserting on a hit makes the first key the least recently used.
import { hash } from 'node:crypto';

// One-shot hash(): createHash() builds a Hash object (and a handle for the GC) per login.
export function tokenKey(token: string): string {
  return hash('sha256', token, 'base64url');
}

export interface CacheEntry<V> { readonly value: V; readonly expiresAtMs: number }

export class LruTtlCache<V> {
  private readonly map = new Map<string, CacheEntry<V>>();

  /** `maxEntries` 0 disables the cache. */
  constructor(private readonly maxEntries: number, private readonly now: () => number = Date.now) {}

  get(key: string): CacheEntry<V> | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    if (e.expiresAtMs <= this.now()) return undefined;
    this.map.set(key, e);
    return e;
  }

  set(key: string, value: V, ttlMs: number): void {
    if (this.maxEntries <= 0 || ttlMs <= 0) return;
    this.map.delete(key);
    this.map.set(key, { value, expiresAtMs: this.now() + ttlMs });
    while (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value as string);
  }

  get size(): number {
    return this.map.size;
  }
}
