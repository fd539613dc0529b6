// Portal sessions in the shared store (SHARED_STATE_URL), so that a sign-in on one replica
// is a session on every replica: no sticky routing. A session is one key per hashed id
// (SHA-256 of the cookie value: the store holds no usable cookie) with its user, CSRF token
// and times, expiring in the store at its idle or absolute end, whichever comes first; a
// set per user lists them, for SCIM's deactivation. The key that seals sign-ins in progress
// (login-seal.ts) is shared too: a random key written once (SET NX), read by every replica.
//
// Every call is bounded (SHARED_STATE_TIMEOUT_MS, no offline queue); a failure is
// PortalStoreDown, which the portal answers with a 503 page: it fails closed, and only the
// portal (the mail ports never wait on this connection).
import type { Redis } from 'ioredis';
import { asciiLower } from '../auth/address.js';
import type { SharedStateConfig } from '../config/types.js';
import { bounded, connectRedis, KEY_PREFIX } from '../state/redis-connection.js';
import { PORTAL_MAX_SESSIONS_PER_USER } from '../limits.js';
import { newSealKey, SEAL_KEY_BYTES } from './login-seal.js';
import { PortalStoreDown, randomId, sessionKey, type PortalSession, type PortalSessionStore } from './sessions.js';

const SESSION = `${KEY_PREFIX}portal:session:`;
const USER = `${KEY_PREFIX}portal:user:`;
const SEAL_KEY = `${KEY_PREFIX}portal:seal-key`;

export class RedisPortalSessions implements PortalSessionStore {
  /** The seal key last read; offered again if the store lost it (a restart without persistence). */
  private candidate = newSealKey();

  static open(config: SharedStateConfig, ttlMs: number): RedisPortalSessions {
    const client = connectRedis(config);
    client.on('error', () => undefined); // every call reports its own failure
    return new RedisPortalSessions(client, config.timeoutMs, ttlMs);
  }

  constructor(readonly client: Redis, private readonly timeoutMs: number, private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  async start(user: string): Promise<string> {
    const id = randomId();
    const at = this.now();
    const s: PortalSession = { user: asciiLower(user), csrf: randomId(), createdAt: at, lastSeenAt: at };
    const k = sessionKey(id);
    await this.call(this.client.multi()
      .set(SESSION + k, JSON.stringify(s), 'PX', this.lifeMs(s))
      .sadd(USER + s.user, k)
      .pexpire(USER + s.user, this.ttlMs)
      .exec());
    await this.keepNewest(s.user, k);
    return id;
  }

  /**
   * At most PORTAL_MAX_SESSIONS_PER_USER sessions of `user`: the oldest beyond go, and the
   * set forgets the sessions that expired meanwhile (it would otherwise grow with every
   * sign-in of the user until it expires itself).
   */
  private async keepNewest(user: string, made: string): Promise<void> {
    const keys = await this.call(this.client.smembers(USER + user));
    if (keys.length <= PORTAL_MAX_SESSIONS_PER_USER) return;
    const texts = await this.call(this.client.mget(keys.map((k) => SESSION + k)));
    // Oldest first; the one just made stays whatever the clock says (several in one millisecond).
    const others = keys.map((k, i) => ({ k, s: parse(texts[i] ?? null) })).filter((x) => x.s && x.k !== made).sort((a, b) => a.s!.createdAt - b.s!.createdAt);
    const gone = new Set(keys.filter((_, i) => !texts[i]));
    for (const x of others.slice(0, Math.max(0, others.length - (PORTAL_MAX_SESSIONS_PER_USER - 1)))) gone.add(x.k);
    if (gone.size === 0) return;
    await this.call(this.client.multi().srem(USER + user, ...gone).del(...[...gone].map((k) => SESSION + k)).exec());
  }

  async get(id: string | undefined): Promise<PortalSession | undefined> {
    if (!id) return undefined;
    const k = SESSION + sessionKey(id);
    const s = parse(await this.call(this.client.get(k)));
    if (!s) return undefined;
    const at = this.now();
    if (at - s.createdAt > this.ttlMs || at - s.lastSeenAt > this.ttlMs / 4) {
      await this.call(this.client.del(k));
      return undefined;
    }
    s.lastSeenAt = at;
    // XX: a sign-out on another replica meanwhile is not undone by this use.
    await this.call(this.client.set(k, JSON.stringify(s), 'PX', this.lifeMs(s), 'XX'));
    return s;
  }

  remainingSeconds(s: PortalSession): number {
    return (s.createdAt + this.ttlMs - this.now()) / 1000;
  }

  async end(id: string | undefined): Promise<void> {
    if (id) await this.call(this.client.del(SESSION + sessionKey(id)));
  }

  async endUser(user: string): Promise<void> {
    const u = USER + asciiLower(user);
    const keys = await this.call(this.client.smembers(u));
    await this.call(this.client.del(u, ...keys.map((k) => SESSION + k)));
  }

  /**
   * The shared seal key. SET NX GET (Redis 7 / Valkey) writes ours only where none is, and
   * answers the one in force: every replica seals with the same key, and after the store
   * lost its data the first replica to ask puts its key back, so sign-ins sealed before go on.
   */
  async sealKey(): Promise<Buffer> {
    const old = await this.call(this.client.call('SET', SEAL_KEY, this.candidate.toString('base64'), 'NX', 'GET') as Promise<string | null>);
    if (old !== null) {
      const key = Buffer.from(old, 'base64');
      if (key.length !== SEAL_KEY_BYTES) throw new PortalStoreDown(`the stored seal key is not ${SEAL_KEY_BYTES} bytes`);
      this.candidate = key;
    }
    return this.candidate;
  }

  close(): void {
    this.client.disconnect();
  }

  /** Until the idle end or the absolute end, whichever is first (at least 1 ms: PX 0 is an error). */
  private lifeMs(s: PortalSession): number {
    return Math.max(1, Math.min(s.lastSeenAt + this.ttlMs / 4, s.createdAt + this.ttlMs) - this.now());
  }

  private async call<T>(p: Promise<T>): Promise<T> {
    try {
      return await bounded(p, this.timeoutMs);
    } catch (err) {
      throw new PortalStoreDown((err as Error).message);
    }
  }
}

/** A stored session, or undefined when it is not one (never a throw). */
function parse(text: string | null): PortalSession | undefined {
  if (!text) return undefined;
  try {
    const s = JSON.parse(text) as Partial<PortalSession>;
    if (typeof s.user !== 'string' || typeof s.csrf !== 'string' || typeof s.createdAt !== 'number' || typeof s.lastSeenAt !== 'number') return undefined;
    return { user: s.user, csrf: s.csrf, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt };
  } catch {
    return undefined;
  }
}
