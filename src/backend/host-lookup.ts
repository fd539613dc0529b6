// Resolving DMS_HOST (default `mailserver`, a compose service name) once per login meant a
// getaddrinfo call in libuv's thread pool, and in Docker two DNS queries (A and AAAA) to
// the embedded resolver, on the critical path of every login and every health probe.
// HostLookupCache.lookup is a dns.lookup() for net.connect()'s `lookup` option that keeps
// each name's answer for BACKEND_LOOKUP_TTL_MS (Node still picks the address family and races
// IPv4/IPv6 itself). A failed connect forgets the name (a recreated DMS container has a new
// address), and while the resolver fails, an answer up to BACKEND_LOOKUP_STALE_MS old is still used.
// A lookup that hangs is bounded by the connect's own deadline (DMS_TIMEOUT_MS).
import dns, { type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { BACKEND_LOOKUP_STALE_MS, BACKEND_LOOKUP_TTL_MS, MAX_BACKEND_LOOKUP_NAMES } from '../limits.js';


type Resolve = (host: string) => Promise<LookupAddress[]>;

interface Entry { readonly addresses: LookupAddress[]; readonly at: number }

export class HostLookupCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<LookupAddress[]>>();

  constructor(
    private readonly resolve: Resolve = (host) => dns.promises.lookup(host, { all: true }),
    private readonly now: () => number = Date.now,
  ) {}

  /** Every address of `host`, from the cache while fresh. */
  async addresses(host: string): Promise<LookupAddress[]> {
    const key = host.toLowerCase();
    const e = this.entries.get(key);
    const age = e ? this.now() - e.at : Infinity;
    if (e && age < BACKEND_LOOKUP_TTL_MS) return e.addresses;
    let p = this.pending.get(key);
    if (!p) {
      p = this.resolve(host).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    try {
      const addresses = await p;
      if (addresses.length === 0) throw Object.assign(new Error(`no address for ${host}`), { code: 'ENOTFOUND' });
      this.entries.delete(key);
      this.entries.set(key, { addresses, at: this.now() });
      while (this.entries.size > MAX_BACKEND_LOOKUP_NAMES) this.entries.delete(this.entries.keys().next().value as string);
      return addresses;
    } catch (err) {
      const stale = this.entries.get(key);
      if (stale && this.now() - stale.at < BACKEND_LOOKUP_STALE_MS) return stale.addresses;
      throw err;
    }
  }

  /** Drops what is known of `host` (its address may have changed). */
  forget(host: string): void {
    this.entries.delete(host.toLowerCase());
  }

  /** The `lookup` option of net.connect(): dns.lookup()'s two answer forms, from the cache. */
  readonly lookup: LookupFunction = (host, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family ?? 0;
    this.addresses(host).then(
      (all) => {
        const usable = family ? all.filter((a) => a.family === family) : all;
        const first = usable[0];
        if (!first) return callback(Object.assign(new Error(`no IPv${family} address for ${host}`), { code: 'ENOTFOUND', hostname: host }), '');
        if (options.all) callback(null, usable);
        else callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}

/** The one cache every backend connection shares. */
export const backendHosts = new HostLookupCache();
