// The messages replicas exchange on the store's pub/sub channel. The store is trusted
// infrastructure, but a message is still checked field by field before it is used.
import type { UserChange } from './store.js';
import { MAX_SHARED_EVENT_CHARS } from '../limits.js';

export type StoreEvent =
  | { readonly from: string; readonly kind: 'block'; readonly key: string; readonly until: number }
  | { readonly from: string; readonly kind: 'user'; readonly change: UserChange };

export function parseEvent(text: string): StoreEvent | null {
  if (text.length > MAX_SHARED_EVENT_CHARS) return null;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(v) || typeof v.from !== 'string') return null;
  if (v.kind === 'block') {
    return typeof v.key === 'string' && typeof v.until === 'number' && Number.isFinite(v.until) ? { from: v.from, kind: 'block', key: v.key, until: v.until } : null;
  }
  if (v.kind !== 'user' || !isObject(v.change)) return null;
  const c = v.change;
  if (typeof c.user !== 'string' || !c.user) return null;
  if (c.op === 'enable') return { from: v.from, kind: 'user', change: { op: 'enable', user: c.user } };
  if (c.op === 'disable' && typeof c.reason === 'string') return { from: v.from, kind: 'user', change: { op: c.op, user: c.user, reason: c.reason } };
  if (c.op === 'remove' && typeof c.reason === 'string') {
    return { from: v.from, kind: 'user', change: c.refused === true ? { op: c.op, user: c.user, reason: c.reason, refused: true } : { op: c.op, user: c.user, reason: c.reason } };
  }
  return null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
