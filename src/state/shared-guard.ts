// The login guard of a replica among several: every failure is counted both here (the
// local FailureLimiter, which alone decides when the store is down or slow) and in the
// shared store, so an attack spread over replicas is blocked at the configured total. Blocks
// other replicas set are mirrored here (announced on the store's channel, re-read on rejoin),
// so the door (session/admission.ts) can still refuse a blocked IP synchronously.
import { LoginGuard, sleep, type Attempt } from '../auth/login-guard.js';
import { failureDelayMs, type FailureLimits, type Verdict } from '../auth/failure-limiter.js';
import type { FailureScope, SharedStore } from './store.js';
import { asciiLower } from '../auth/address.js';
import { MAX_AUTH_FAIL_KEYS, MAX_SHARED_BLOCKS } from '../limits.js';

export class SharedLoginGuard extends LoginGuard {
  /** Blocks known from the store: `ip:…` / `user:…` → until (epoch ms). */
  private readonly mirror = new Map<string, number>();
  /**
   * Failures the store counted from here, by client and the user each named: a success takes
   * back no more than these (not those counted here alone while the store was away, which
   * would take back others' failures). Forgotten when the store is lost (it may come back empty).
   */
  private readonly stored = new Map<string, number>();
  private readonly unlisten: () => void;

  constructor(private readonly limits: FailureLimits, private readonly store: SharedStore, private readonly clock: () => number = Date.now) {
    super(limits, clock);
    this.unlisten = store.listen({
      block: (key, until) => this.mirrorBlock(key, until),
      joined: () => { void this.reread(); },
      left: () => this.stored.clear(),
    });
  }

  override blocked(ip: string, attempt?: Attempt): Verdict {
    const local = super.blocked(ip, attempt);
    if (local.blocked || this.mirror.size === 0) return local; // no other replica's block known: no keys to build
    const t = this.clock();
    for (const [scope, key] of this.limiter.keys(ip, attempt)) {
      const until = this.mirror.get(key);
      if (until !== undefined && until > t) return { blocked: true, scope, retryAfterMs: until - t };
    }
    return local;
  }

  /** Also asks the store (bounded): a block set on another replica a moment ago counts. */
  override check(ip: string, attempt?: Attempt): Verdict | Promise<Verdict> {
    const known = this.blocked(ip, attempt);
    if (known.blocked || !this.store.shared) return known;
    return this.askStore(ip, attempt, known);
  }

  private async askStore(ip: string, attempt: Attempt | undefined, known: Verdict): Promise<Verdict> {
    const keys = [...this.limiter.keys(ip, attempt)];
    const answers = await Promise.all(keys.map(([scope, key]) => this.store.blockedMs(scope, idOf(scope, key))));
    for (let i = 0; i < keys.length; i++) {
      const ms = answers[i];
      if (ms) {
        const [scope, key] = keys[i]!;
        this.mirrorBlock(key, this.clock() + ms);
        return { blocked: true, scope, retryAfterMs: ms };
      }
    }
    return known;
  }

  override async failed(ip: string, attempt?: Attempt): Promise<void> {
    const { delayMs } = this.limiter.fail(ip, attempt);
    if (!this.store.shared) return sleep(delayMs);
    const keys = [...this.limiter.keys(ip, attempt)];
    const counts = await Promise.all(keys.map(([scope, key]) => this.store.addFailure(scope, idOf(scope, key))));
    let delay = delayMs;
    for (let i = 0; i < keys.length; i++) {
      const c = counts[i];
      if (!c) continue; // the store did not answer: the local count decides
      const [scope, key] = keys[i]!;
      if (c.blockedMs > 0) this.mirrorBlock(key, this.clock() + c.blockedMs);
      // The delay grows with the client's failures on every replica.
      if (scope === 'ip') {
        delay = Math.max(delay, failureDelayMs(this.limits, c.count));
        this.countStored(storedKey(key, attempt?.user ?? ''));
      }
    }
    await sleep(delay);
  }

  override succeeded(ip: string, user: string): void {
    const forgotten = this.limiter.succeed(ip, user);
    const key = storedKey(this.limiter.ipKey(ip), user);
    const counted = this.stored.get(key) ?? 0;
    this.stored.delete(key);
    // The store forgets as many (those this replica counted there); a block stays, as here.
    const n = Math.min(forgotten, counted);
    if (n > 0 && this.store.shared) void this.store.forgetFailures(idOf('ip', this.limiter.ipKey(ip)), n);
  }

  close(): void {
    this.unlisten();
  }

  private countStored(key: string): void {
    const n = (this.stored.get(key) ?? 0) + 1;
    this.stored.delete(key); // re-insert: Map order is our recency order
    this.stored.set(key, n);
    if (this.stored.size > MAX_AUTH_FAIL_KEYS) this.stored.delete(this.stored.keys().next().value!);
  }

  private mirrorBlock(key: string, until: number): void {
    if (until <= this.clock()) return;
    const known = this.mirror.get(key) ?? 0;
    this.mirror.delete(key); // re-insert: Map order is our recency order
    this.mirror.set(key, Math.max(until, known));
    if (this.mirror.size <= MAX_SHARED_BLOCKS) return;
    const t = this.clock();
    for (const [k, u] of this.mirror) if (u <= t) this.mirror.delete(k);
    while (this.mirror.size > MAX_SHARED_BLOCKS) this.mirror.delete(this.mirror.keys().next().value!);
  }

  /** On (re)joining the store: the blocks set while this replica was away. */
  private async reread(): Promise<void> {
    const blocks = await this.store.readBlocks();
    for (const [key, until] of blocks ?? []) this.mirrorBlock(key, until);
  }
}

/** A client's key and the user a failure named (lower case), as succeed() matches them. */
function storedKey(ipKey: string, user: string): string {
  return `${ipKey}\n${asciiLower(user)}`;
}

/** The limiter's key (`ip:…`) without its scope: the store keeps one counter per scope. */
function idOf(scope: FailureScope, key: string): string {
  return key.slice(scope.length + 1);
}
