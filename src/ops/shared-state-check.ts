// The shared store in /readyz: its loss is a degradation, not a reason to take the replica
// out of the balancer (every replica would go at once, for a store logins do not need), so
// the check stays ok and says what is degraded.
import type { ReadinessCheck } from './health.js';
import type { SharedStore } from '../state/store.js';

export function sharedStateCheck(store: SharedStore): ReadinessCheck {
  return { name: 'shared-state', run: async () => ({ ok: true, detail: store.status().detail }) };
}
