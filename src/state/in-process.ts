// The store of a single instance (SHARED_STATE_URL empty): nothing is shared, so every
// answer is "decide with your own state": the failure limiter and the disabled users of
// this process stay the only truth, exactly as before issue 20.
import type { SharedStore } from './store.js';

export function inProcessStore(): SharedStore {
  return {
    shared: false,
    addFailure: async () => null,
    blockedMs: async () => null,
    forgetFailures: async () => undefined,
    changeUser: async () => false,
    readUsers: async () => null,
    readRemoved: async () => null,
    addUsers: async () => false,
    readBlocks: async () => null,
    getDecision: async () => null,
    putDecision: () => undefined,
    listen: () => () => undefined,
    status: () => ({ up: true, detail: 'in process (SHARED_STATE_URL empty)' }),
    close: async () => undefined,
  };
}
