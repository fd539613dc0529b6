// App passwords in the shared store (SHARED_STATE_URL with APP_PASSWORDS_FILE): one created
// or revoked through any replica (or the CLI, or the portal) holds on every replica from its
// very next login, because a login reads the user's records from the store, with no copy
// kept here to go stale. Per user two hashes: the records (id → JSON, the scrypt hash, never
// the secret) and the last-used data (id → JSON), which each replica keeps in memory and
// writes in one transaction every LAST_USED_FLUSH_MS (no write per login).
//
// A revocation is announced on a pub/sub channel in the same transaction, so each replica
// that listens (onRevoked) ends the sessions that logged in with the revoked ids within
// milliseconds; the caller's own replica is told at once, without the round trip. A replica that was away
// from the store (and so may have missed announcements) re-reads, when its subscriber is back,
// which of the ids its logins listed are left, and tells its listeners of the ones gone.
//
// Every call is bounded by SHARED_STATE_TIMEOUT_MS; a store that does not answer rejects with
// AppPasswordsUnavailableError, so a login fails closed as temporarily unavailable.
import { randomUUID } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { asciiLower } from '../auth/address.js';
import {
  AppPasswordLimitError, AppPasswordsUnavailableError, cleanLabel, generateAppPassword, hashAppPassword,
  RevokedListeners, type AppPasswordRecord, type AppPasswordStore, type RevokedListener,
} from '../auth/app-passwords.js';
import type { SharedStateConfig } from '../config/types.js';
import { metrics } from '../observability/metrics.js';
import { bounded, connectRedis, connectTimeoutMs, KEY_PREFIX } from './redis-connection.js';
import { LAST_USED_FLUSH_MS, MAX_APP_PASSWORDS_PER_USER, MAX_APP_PASSWORD_OWNERS, MAX_REVOKED_EVENT_CHARS } from '../limits.js';

const recordsKey = (user: string): string => `${KEY_PREFIX}app-passwords:${user}`;
const usageKey = (user: string): string => `${KEY_PREFIX}app-passwords-used:${user}`;
const REVOKED_CHANNEL = `${KEY_PREFIX}app-passwords-revoked`;

type Usage = Pick<AppPasswordRecord, 'lastUsedAt' | 'lastAddress' | 'lastProtocol'>;

export interface RedisAppPasswordsOptions {
  /** How often last-used data is written (tests shorten it). */
  readonly flushMs?: number;
  /** Makes the connection that hears revocations announced by other replicas. */
  readonly subscriber?: () => Redis;
}

export class RedisAppPasswords implements AppPasswordStore {
  /** Last-used data not yet written, by id (with its user: the keys are per user). */
  private readonly pending = new Map<string, { readonly user: string; readonly usage: Usage }>();
  /** Who owns the ids listed lately: used() is given an id that a login just listed. */
  private readonly owners = new Map<string, string>();
  private flusher: NodeJS.Timeout | undefined;
  private readonly flushMs: number;
  private readonly subscriber: (() => Redis) | undefined;
  /** Until the first connection is made, a call waits for it (the CLI's one call, a login at start-up). */
  private firstReady: Promise<void> | null;
  private readonly id = randomUUID();
  private readonly revoked = new RevokedListeners();
  /** The subscriber, made at the first onRevoked (the CLI, which only revokes, never makes one). */
  private sub: Redis | undefined;

  constructor(readonly client: Redis, private readonly timeoutMs: number, private readonly connectMs: number, opts: RedisAppPasswordsOptions = {}) {
    this.subscriber = opts.subscriber;
    this.flushMs = opts.flushMs ?? LAST_USED_FLUSH_MS;
    this.firstReady = client.status === 'ready' ? null : new Promise((resolve) => client.once('ready', () => {
      this.firstReady = null;
      resolve();
    }));
    this.firstReady?.catch(() => undefined);
  }

  static open(config: SharedStateConfig, opts: RedisAppPasswordsOptions = {}): RedisAppPasswords {
    const client = connectRedis(config);
    client.on('error', () => undefined); // reported by the calls that fail
    // The subscriber queues its SUBSCRIBE until connected, and ioredis re-subscribes on reconnect.
    const subscriber = (): Redis => connectRedis(config, { enableOfflineQueue: true, commandTimeout: undefined });
    return new RedisAppPasswords(client, config.timeoutMs, connectTimeoutMs(config), { subscriber, ...opts });
  }

  async list(user: string): Promise<readonly AppPasswordRecord[]> {
    const key = asciiLower(user);
    const [records, usage] = await this.exec('app-password-list', () => this.client.multi().hgetall(recordsKey(key)).hgetall(usageKey(key))) as [Record<string, string>, Record<string, string>];
    const list: AppPasswordRecord[] = [];
    for (const [id, json] of Object.entries(records)) {
      const r = parse<AppPasswordRecord>(json);
      if (!r || r.id !== id || typeof r.hash !== 'string') continue;
      this.owned(id, key);
      list.push({ ...r, ...parse<Usage>(usage[id] ?? ''), ...this.pending.get(id)?.usage });
    }
    // Last-used data written by a replica just after a revocation: nobody reads it, drop it.
    const orphans = Object.keys(usage).filter((id) => !(id in records));
    if (orphans.length) void this.call('app-password-prune', () => this.client.hdel(usageKey(key), ...orphans)).catch(() => undefined);
    return list.sort((a, b) => a.createdAt - b.createdAt);
  }

  async create(user: string, label: string): Promise<{ readonly record: AppPasswordRecord; readonly secret: string }> {
    const key = asciiLower(user);
    const secret = generateAppPassword();
    const record: AppPasswordRecord = { id: randomUUID(), user: key, label: cleanLabel(label), createdAt: Date.now(), hash: await hashAppPassword(secret) };
    // Added, then counted, in one transaction: two replicas adding at once both see both.
    const [, count] = await this.exec('app-password-create', () => this.client.multi().hset(recordsKey(key), record.id, JSON.stringify(record)).hlen(recordsKey(key))) as [number, number];
    if (count > MAX_APP_PASSWORDS_PER_USER) {
      await this.call('app-password-create', () => this.client.hdel(recordsKey(key), record.id));
      throw new AppPasswordLimitError(`at most ${MAX_APP_PASSWORDS_PER_USER} app passwords per user`);
    }
    return { record, secret };
  }

  async revoke(user: string, id: string | 'all'): Promise<number> {
    const key = asciiLower(user);
    let gone: number;
    if (id === 'all') {
      [gone] = await this.exec('app-password-revoke', () => this.client.multi().hlen(recordsKey(key)).del(recordsKey(key), usageKey(key)).publish(REVOKED_CHANNEL, this.announce(key, 'all'))) as [number];
      for (const [pid, p] of this.pending) if (p.user === key) this.pending.delete(pid);
      this.revoked.tell(key, 'all');
    } else {
      [gone] = await this.exec('app-password-revoke', () => this.client.multi().hdel(recordsKey(key), id).hdel(usageKey(key), id).publish(REVOKED_CHANNEL, this.announce(key, [id]))) as [number];
      this.pending.delete(id);
      if (gone) this.revoked.tell(key, [id]);
    }
    return gone;
  }

  onRevoked(fn: RevokedListener): () => void {
    if (!this.sub && this.subscriber) {
      const sub = (this.sub = this.subscriber());
      sub.on('error', () => undefined); // the calls on the main connection report the store's state
      sub.on('message', (_channel: string, text: string) => this.heard(text));
      sub.subscribe(REVOKED_CHANNEL).catch(() => undefined); // retried by ioredis on reconnect
      // Re-read when either connection is back (whichever returns last finds the store answering,
      // and the subscriber hears from then on).
      for (const c of [this.client, sub]) {
        let joined = c.status === 'ready';
        c.on('ready', () => {
          if (joined) void this.recheck().catch(() => undefined);
          joined = true;
        });
      }
    }
    return this.revoked.add(fn);
  }

  /** Back after a loss: the ids known here (those of the sessions logged in here among them) that are gone from the store are revoked. */
  private async recheck(): Promise<void> {
    const byUser = new Map<string, string[]>();
    for (const [id, user] of this.owners) {
      const ids = byUser.get(user);
      if (ids) ids.push(id);
      else byUser.set(user, [id]);
    }
    if (byUser.size === 0) return;
    const users = [...byUser.keys()];
    const left = await this.exec('app-password-recheck', () => {
      const p = this.client.pipeline();
      for (const u of users) p.hkeys(recordsKey(u));
      return p;
    }) as string[][];
    users.forEach((user, i) => {
      const kept = new Set(left[i]);
      const gone = byUser.get(user)!.filter((id) => !kept.has(id));
      for (const id of gone) this.owners.delete(id);
      this.revoked.tell(user, gone);
    });
  }

  private announce(user: string, ids: readonly string[] | 'all'): string {
    return JSON.stringify({ from: this.id, user, ids });
  }

  /** A revocation announced by a replica (or the CLI): checked field by field, ours ignored (told at once). */
  private heard(text: string): void {
    if (text.length > MAX_REVOKED_EVENT_CHARS) return;
    const m = parse<{ from?: unknown; user?: unknown; ids?: unknown }>(text);
    if (!m || m.from === this.id || typeof m.user !== 'string' || !m.user) return;
    if (m.ids === 'all') this.revoked.tell(asciiLower(m.user), 'all');
    else if (Array.isArray(m.ids) && m.ids.every((i) => typeof i === 'string')) this.revoked.tell(asciiLower(m.user), m.ids as string[]);
  }

  used(id: string, at: number, address: string, protocol: string): void {
    const user = this.owners.get(id);
    if (user === undefined) return;
    this.pending.set(id, { user, usage: { lastUsedAt: at, lastAddress: address, lastProtocol: protocol } });
    this.flusher ??= setTimeout(() => {
      this.flusher = undefined;
      void this.flush();
    }, this.flushMs);
    this.flusher.unref();
  }

  /** Records of a state file, each added once: an id imported before (and perhaps revoked since) is never added again. */
  async import(records: readonly AppPasswordRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    const imported = `${KEY_PREFIX}app-passwords-imported`;
    const seen = await this.call('app-password-import', () => this.client.smismember(imported, ...records.map((r) => r.id)));
    const fresh = records.filter((_, i) => seen[i] === 0);
    if (fresh.length === 0) return 0;
    const m = this.client.multi();
    for (const { lastUsedAt, lastAddress, lastProtocol, ...r } of fresh) {
      const user = asciiLower(r.user);
      m.hsetnx(recordsKey(user), r.id, JSON.stringify({ ...r, user }));
      if (lastUsedAt) m.hsetnx(usageKey(user), r.id, JSON.stringify({ lastUsedAt, lastAddress, lastProtocol }));
      m.sadd(imported, r.id);
    }
    await this.exec('app-password-import', () => m);
    return fresh.length;
  }

  async close(): Promise<void> {
    clearTimeout(this.flusher);
    this.flusher = undefined;
    await this.flush();
    this.sub?.disconnect();
    this.client.disconnect();
  }

  /** Writes the last-used data gathered since the last flush; kept for the next one when the store fails. */
  private async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending];
    this.pending.clear();
    const m = this.client.multi();
    for (const [id, { user, usage }] of batch) m.hset(usageKey(user), id, JSON.stringify(usage));
    try {
      await this.exec('app-password-used', () => m);
    } catch {
      for (const [id, p] of batch) if (!this.pending.has(id)) this.pending.set(id, p);
    }
  }

  private owned(id: string, user: string): void {
    this.owners.delete(id);
    this.owners.set(id, user);
    if (this.owners.size > MAX_APP_PASSWORD_OWNERS) this.owners.delete(this.owners.keys().next().value!);
  }

  /** One transaction, bounded: its replies, or AppPasswordsUnavailableError. */
  private async exec(op: string, build: () => ChainableCommander): Promise<unknown[]> {
    const replies = await this.call(op, () => build().exec());
    if (replies === null) throw this.unavailable(op, new Error('transaction aborted'));
    return replies.map(([err, v]) => {
      if (err) throw this.unavailable(op, err);
      return v;
    });
  }

  /** One bounded call (after the first connection, bounded too); any failure is "unavailable", and counted. */
  private async call<T>(op: string, run: () => Promise<T>): Promise<T> {
    try {
      if (this.firstReady) await bounded(this.firstReady, this.connectMs);
      return await bounded(run(), this.timeoutMs);
    } catch (err) {
      throw this.unavailable(op, err);
    }
  }

  private unavailable(op: string, err: unknown): AppPasswordsUnavailableError {
    if (err instanceof AppPasswordsUnavailableError) return err;
    metrics.sharedStateErrors.inc({ op });
    return new AppPasswordsUnavailableError(`app passwords: the shared store did not answer (${(err as Error)?.message ?? String(err)})`, { cause: err });
  }
}

function parse<T>(json: string): T | undefined {
  try {
    const v = JSON.parse(json) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as T : undefined;
  } catch {
    return undefined;
  }
}
