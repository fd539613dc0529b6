// The shared-state keys (issue 20): a Redis/Valkey URL, its password file and the bound on
// every call. Off (null) when SHARED_STATE_URL is empty: one instance keeps it all in process.
import { secretOrFile } from './values.js';
import type { KeyValues } from './keys.js';
import type { SharedStateConfig } from './types.js';

export function loadSharedState(v: Pick<KeyValues, 'SHARED_STATE_URL' | 'SHARED_STATE_PASSWORD_FILE' | 'SHARED_STATE_TIMEOUT_MS'>, problems: string[]): SharedStateConfig | null {
  const url = v.SHARED_STATE_URL.trim();
  const passwordFile = v.SHARED_STATE_PASSWORD_FILE;
  const timeoutMs = v.SHARED_STATE_TIMEOUT_MS;
  if (!url) return null;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // The URL may hold a password: never echo it.
    problems.push('SHARED_STATE_URL: not a URL (redis://host:port/db or rediss://...)');
  }
  if (parsed && parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') problems.push(`SHARED_STATE_URL: scheme ${parsed.protocol} is not redis: or rediss:`);
  const password = secretOrFile('', passwordFile, (e) => problems.push(`SHARED_STATE_PASSWORD_FILE: ${e}`));
  return { url, ...(password ? { password } : {}), timeoutMs };
}
