// The safety net against a secret reaching a log line. Code never logs credentials on
// purpose; a field named like one is replaced by '[redacted]' wherever it is, down to
// MAX_DEPTH objects deep (arrays included). The caller's objects are never changed: what
// holds a secret is copied, the rest is passed on as it is.
//
// This replaced pino's path-based redaction (fast-redact with '*.x' wildcards), which cost
// ~30 µs per session, about 2 % of the proxy's CPU per login; this walk costs well under
// 1 µs for the flat objects the proxy logs. test/observability/logger.test.ts pins what it
// censors and what it keeps.
import { stdSerializers } from 'pino';

export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'token', 'accessToken', 'password', 'pass', 'masterPassword', 'secret', 'authorization', 'auth',
]);
export const CENSORED = '[redacted]';
const MAX_DEPTH = 4;

/** `obj`, or a copy of it with every secret-named field censored. */
export function censor<T>(obj: T): T {
  return walk(obj, 1) as T;
}

function walk(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== 'object' || depth > MAX_DEPTH || ArrayBuffer.isView(v)) return v;
  if (Array.isArray(v)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < v.length; i++) {
      const n = walk(v[i], depth + 1);
      if (n !== v[i]) (out ??= v.slice())[i] = n;
    }
    return out ?? v;
  }
  const o = v as Record<string, unknown>;
  let out: Record<string, unknown> | null = null;
  for (const key in o) {
    const x = o[key];
    const n = SECRET_KEYS.has(key) ? CENSORED : walk(x, depth + 1);
    // An Error's message and stack are not own enumerable fields: copy it the way pino
    // would have serialized it, so they are kept.
    if (n !== x) (out ??= o instanceof Error ? { ...stdSerializers.err(o) } : { ...o })[key] = n;
  }
  return out ?? v;
}
