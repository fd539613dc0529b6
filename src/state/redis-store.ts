// The shared store on Redis 7 / Valkey (SHARED_STATE_URL). Failure counts use
// rate-limiter-flexible's Redis limiter (an atomic INCR+TTL script, a fixed window that
// starts at the first failure, and a block of AUTH_FAIL_BLOCK_SECONDS set in Redis itself);
// blocks and user changes are also announced on one pub/sub channel so every replica's
// mirror learns them within milliseconds; the deactivated users are a hash re-read when the
// store (re)joins.
//
// Every call is bounded (SHARED_STATE_TIMEOUT_MS, and no offline queue: with the store down
// a call fails at once), counted in shared_state_errors_total when it fails, and never throws.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { SharedStateConfig } from '../config/types.js';
import type { FailureLimits } from '../auth/failure-limiter.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import type { FailureScope, SharedCount, SharedStore, SharedUsers, StoreListener, UserChange } from './store.js';
import { parseEvent, type StoreEvent } from './events.js';
import { MAX_SHARED_BLOCKS, MAX_SHARED_REMOVALS, REMOVALS_KEPT_MS } from '../limits.js';
import { bounded, connectRedis, KEY_PREFIX as PREFIX } from './redis-connection.js';

const USERS = `${PREFIX}disabled`;
const BLOCKS = `${PREFIX}blocks`;
const EPOCH = `${PREFIX}epoch`;
const REMOVED = `${PREFIX}removed`;
/** Positive token decisions, by the token's SHA-256 digest (never the token), expiring with them. */
const TOKENS = `${PREFIX}token:`;
const CHANNEL = `${PREFIX}events`;

export function redisStore(config: SharedStateConfig, limits: FailureLimits, log: Logger): SharedStore {
  return new RedisStore(config, limits, log);
}

class RedisStore implements SharedStore {
  readonly shared = true;
  private readonly id = randomUUID();
  private readonly client: Redis;
  private readonly sub: Redis;
  private readonly limiters: Record<FailureScope, RateLimiterRedis>;
  private readonly points: Record<FailureScope, number>;
  private readonly listeners = new Set<StoreListener>();
  private epoch: string | undefined;
  private up = false;
  private lastError = 'not connected yet';
  private closed = false;

  constructor(private readonly config: SharedStateConfig, limits: FailureLimits, private readonly log: Logger) {
    this.client = connectRedis(config);
    // The subscriber queues its SUBSCRIBE until connected (and ioredis re-subscribes on reconnect).
    this.sub = connectRedis(config, { enableOfflineQueue: true, commandTimeout: undefined });
    this.points = { ip: limits.maxPerIp - 1, user: limits.maxPerUser - 1 };
    const limiter = (scope: FailureScope, max: number) => new RateLimiterRedis({
      storeClient: this.client,
      keyPrefix: `${PREFIX}fail:${scope}`,
      // The max-th failure exceeds max-1 points: blocked at the max-th, as the local limiter does.
      points: max - 1,
      duration: Math.max(1, Math.round(limits.windowMs / 1000)),
      blockDuration: Math.max(1, Math.round(limits.blockMs / 1000)),
      rejectIfRedisNotReady: true,
    });
    this.limiters = { ip: limiter('ip', limits.maxPerIp), user: limiter('user', limits.maxPerUser) };
    for (const c of [this.client, this.sub]) {
      c.on('error', (err: Error) => { this.lastError = err.message; });
      c.on('ready', () => this.changed());
      c.on('close', () => this.changed());
    }
    this.sub.on('message', (_channel: string, text: string) => this.received(text));
    this.sub.subscribe(CHANNEL).catch(() => undefined); // retried by ioredis on reconnect
    metrics.sharedStateUp.set(0);
  }

  async addFailure(scope: FailureScope, key: string): Promise<SharedCount | null> {
    try {
      const r = await this.bounded(this.limiters[scope].consume(key, 1));
      return { count: r.consumedPoints, blockedMs: 0 };
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) return this.failed('add-failure', err);
      // Over the limit: the key is blocked in Redis. The failure that crossed the line tells
      // the others (the later ones find it blocked already).
      if (err.consumedPoints === this.points[scope] + 1) void this.announceBlock(`${scope}:${key}`, Date.now() + err.msBeforeNext);
      return { count: err.consumedPoints, blockedMs: err.msBeforeNext };
    }
  }

  async blockedMs(scope: FailureScope, key: string): Promise<number | null> {
    try {
      const r = await this.bounded(this.limiters[scope].get(key));
      return r && r.consumedPoints > this.points[scope] ? r.msBeforeNext : 0;
    } catch (err) {
      return this.failed('blocked', err);
    }
  }

  async forgetFailures(key: string, n: number): Promise<void> {
    try {
      const r = n > 0 ? await this.bounded(this.limiters.ip.get(key)) : null;
      // A block stays; so does everything when unsure. No more is taken back than the store
      // counts now: a counter gone (its window over, the store restarted empty) would become
      // negative, a credit of failures for the next window (reward() makes a missing key -n).
      const take = r && r.consumedPoints <= this.points.ip ? Math.min(n, r.consumedPoints) : 0;
      if (take > 0) await this.bounded(this.limiters.ip.reward(key, take));
    } catch (err) {
      this.failed('forget', err);
    }
  }

  async changeUser(change: UserChange): Promise<boolean> {
    const m = this.client.multi();
    // A deletion that took the account away stays refused: kept with the deactivations.
    if (change.op === 'disable' || (change.op === 'remove' && change.refused)) m.hset(USERS, change.user, change.reason);
    else m.hdel(USERS, change.user);
    if (change.op === 'remove') {
      // A deletion leaves nothing in USERS: it is kept here a while (by time), so that a
      // replica cut off from the store when it was announced ends the user's sessions on rejoin.
      const now = Date.now();
      m.zadd(REMOVED, now, change.user);
      m.zremrangebyscore(REMOVED, '-inf', now - REMOVALS_KEPT_MS);
    } else {
      // Created again (active or not): the deletion is over, a rejoining replica must not
      // replay it (it would revoke the app passwords the user has made since).
      m.zrem(REMOVED, change.user);
    }
    m.publish(CHANNEL, JSON.stringify({ from: this.id, kind: 'user', change } satisfies StoreEvent));
    return this.run('change-user', m.exec().then(() => true), false);
  }

  async readUsers(): Promise<SharedUsers | null> {
    try {
      // The epoch marks the data set: a store restarted without persistence has a new one,
      // and the replicas then give it back the deactivations they know (addUsers).
      const [, epoch, users] = await this.bounded(Promise.all([
        this.client.set(EPOCH, randomUUID(), 'NX'),
        this.client.get(EPOCH),
        this.client.hgetall(USERS),
      ]));
      const sameData = this.epoch !== undefined && epoch === this.epoch;
      this.epoch = epoch ?? undefined;
      return { users: new Map(Object.entries(users)), sameData };
    } catch (err) {
      return this.failed('read-users', err);
    }
  }

  async readRemoved(sinceMs: number): Promise<readonly string[] | null> {
    return this.run('read-removed', this.client.zrangebyscore(REMOVED, sinceMs, '+inf', 'LIMIT', 0, MAX_SHARED_REMOVALS), null);
  }

  async addUsers(users: ReadonlyMap<string, string>): Promise<boolean> {
    if (users.size === 0) return true;
    const m = this.client.multi();
    for (const [user, reason] of users) m.hsetnx(USERS, user, reason);
    return this.run('add-users', m.exec().then(() => true), false);
  }

  async readBlocks(): Promise<ReadonlyMap<string, number> | null> {
    try {
      const now = Date.now();
      await this.bounded(this.client.zremrangebyscore(BLOCKS, '-inf', now));
      const flat = await this.bounded(this.client.zrangebyscore(BLOCKS, now, '+inf', 'WITHSCORES', 'LIMIT', 0, MAX_SHARED_BLOCKS));
      const blocks = new Map<string, number>();
      for (let i = 0; i + 1 < flat.length; i += 2) blocks.set(flat[i]!, Number(flat[i + 1]));
      return blocks;
    } catch (err) {
      return this.failed('read-blocks', err);
    }
  }

  async getDecision(key: string): Promise<{ json: string; ttlMs: number } | null> {
    const replies = await this.run('get-decision', this.client.multi().get(`${TOKENS}${key}`).pttl(`${TOKENS}${key}`).exec(), null);
    const [json, ttlMs] = (replies ?? []).map(([, v]) => v);
    return typeof json === 'string' && typeof ttlMs === 'number' && ttlMs > 0 ? { json, ttlMs } : null;
  }

  putDecision(key: string, json: string, ttlMs: number): void {
    void this.run('put-decision', this.client.set(`${TOKENS}${key}`, json, 'PX', Math.max(1, Math.floor(ttlMs))), null);
  }

  listen(l: StoreListener): () => void {
    this.listeners.add(l);
    if (this.up) l.joined?.();
    return () => { this.listeners.delete(l); };
  }

  status(): { up: boolean; detail: string } {
    return this.up
      ? { up: true, detail: 'shared store reachable' }
      : { up: false, detail: `degraded: shared store unreachable (${this.lastError}); limits counted by this replica alone, last known deactivations in force` };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.client.disconnect();
    this.sub.disconnect();
    metrics.sharedStateUp.set(0);
  }

  private async announceBlock(key: string, untilMs: number): Promise<void> {
    const m = this.client.multi();
    m.zadd(BLOCKS, untilMs, key);
    m.publish(CHANNEL, JSON.stringify({ from: this.id, kind: 'block', key, until: untilMs } satisfies StoreEvent));
    await this.run('announce-block', m.exec(), null);
  }

  private received(text: string): void {
    const e = parseEvent(text);
    if (!e || e.from === this.id) return;
    for (const l of this.listeners) {
      if (e.kind === 'block') l.block?.(e.key, e.until);
      else l.user?.(e.change);
    }
  }

  /** Both connections ready: up (and the listeners re-read what they missed); either lost: down. */
  private changed(): void {
    const up = !this.closed && this.client.status === 'ready' && this.sub.status === 'ready';
    if (up === this.up) return;
    this.up = up;
    metrics.sharedStateUp.set(up ? 1 : 0);
    if (up) {
      this.log.info({ event: 'shared-state-up' }, 'shared store reachable: limits and deactivations shared');
      for (const l of this.listeners) l.joined?.();
    } else if (!this.closed) {
      for (const l of this.listeners) l.left?.();
      this.log.warn({ event: 'shared-state-down', error: this.lastError }, 'shared store unreachable: this replica decides with its own state');
    }
  }

  private async run<T, F>(op: string, p: Promise<T>, fallback: F): Promise<T | F> {
    try {
      return await this.bounded(p);
    } catch (err) {
      this.failed(op, err);
      return fallback;
    }
  }

  private failed(op: string, err: unknown): null {
    metrics.sharedStateErrors.inc({ op });
    this.lastError = (err as Error)?.message ?? String(err);
    this.log.debug({ event: 'shared-state-error', op, error: this.lastError }, 'shared store call failed');
    return null;
  }

  private bounded<T>(p: Promise<T>): Promise<T> {
    return bounded(p, this.config.timeoutMs);
  }
}
