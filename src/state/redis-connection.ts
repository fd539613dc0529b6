// How every connection to the shared store is made and every call bounded: the same options
// for the replicas' store (redis-store.ts), the app passwords (redis-app-passwords.ts) and
// the admin CLI. No offline queue: with the store down a call fails at once instead of
// waiting in a queue; reconnection backs off to SHARED_STATE_RECONNECT_MAX_MS.
import { Redis, type RedisOptions } from 'ioredis';
import type { SharedStateConfig } from '../config/types.js';
import { SHARED_STATE_RECONNECT_MAX_MS } from '../limits.js';

/** The prefix of every key and channel the proxy uses in the store. */
export const KEY_PREFIX = 'oauth2-mail-proxy:';

/** How long a new connection may take (TCP, TLS, AUTH): longer than one call. */
export function connectTimeoutMs(config: SharedStateConfig): number {
  return Math.max(1000, config.timeoutMs * 4);
}

export function redisOptions(config: SharedStateConfig): RedisOptions {
  return {
    commandTimeout: config.timeoutMs,
    connectTimeout: connectTimeoutMs(config),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times: number) => Math.min(times * 100, SHARED_STATE_RECONNECT_MAX_MS),
    lazyConnect: false,
    ...(config.password !== undefined ? { password: config.password } : {}),
  };
}

/** A new connection; `extra` overrides the common options (the subscriber queues its SUBSCRIBE). */
export function connectRedis(config: SharedStateConfig, extra: RedisOptions = {}): Redis {
  return new Redis(withoutPassword(config.url, config.password !== undefined), { ...redisOptions(config), ...extra });
}

/** Every call ends within `timeoutMs`, whatever the client does; a late rejection is not unhandled. */
export function bounded<T>(p: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  p.catch(() => undefined);
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A password from SHARED_STATE_PASSWORD_FILE replaces the URL's own (ioredis would prefer the URL's). */
function withoutPassword(url: string, strip: boolean): string {
  if (!strip) return url;
  const u = new URL(url);
  u.password = '';
  return u.toString();
}
