// Positive token decisions shared by the replicas (issue 20): a token validated on one
// replica logs in on another without a second IdP call. Keyed by the token's SHA-256 digest
// (auth/cache.ts tokenKey), never the token; kept in the store for no longer than the
// decision's own cache time (the token's expiry and OAUTH2_CACHE_TTL_SECONDS), and taken by a
// replica for no longer than it has left there. Only who the token is for is kept (user,
// claim, issuer, mode, expiry), not the claims that decided. A decision read back is checked
// field by field; the Authenticator then checks the user against the deactivated users, as
// after any cache hit.
import type { SharedTokenDecisions, ValidDecision } from '../auth/token-check.js';
import type { SharedStore } from './store.js';

const MODES: ReadonlySet<string> = new Set(['auth', 'get', 'post', 'local']);

export function sharedTokenDecisions(store: SharedStore): SharedTokenDecisions | undefined {
  if (!store.shared) return undefined;
  return {
    async get(key) {
      const hit = await store.getDecision(key);
      const decision = hit ? parseDecision(hit.json) : null;
      return hit && decision ? { decision, ttlMs: hit.ttlMs } : null;
    },
    put(key, d, ttlMs) {
      const kept: ValidDecision = { status: 'valid', user: d.user, claim: d.claim, issuer: d.issuer, mode: d.mode, evidence: {}, ...(d.expiresAt !== undefined ? { expiresAt: d.expiresAt } : {}) };
      store.putDecision(key, JSON.stringify(kept), ttlMs);
    },
  };
}

function parseDecision(json: string): ValidDecision | null {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || v.status !== 'valid') return null;
  if (typeof v.user !== 'string' || !v.user || typeof v.claim !== 'string' || typeof v.issuer !== 'string' || typeof v.mode !== 'string' || !MODES.has(v.mode)) return null;
  if (v.expiresAt !== undefined && (typeof v.expiresAt !== 'number' || !Number.isFinite(v.expiresAt))) return null;
  return { status: 'valid', user: v.user, claim: v.claim, issuer: v.issuer, mode: v.mode as ValidDecision['mode'], evidence: {}, ...(v.expiresAt !== undefined ? { expiresAt: v.expiresAt as number } : {}) };
}
