// What the server builds from SHARED_STATE_URL: the store (in process when empty), the
// login guard counting on it, and the deactivations kept alike on every replica.
import { DisabledUsers } from '../auth/disabled-users.js';
import type { FailureLimits } from '../auth/failure-limiter.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { inProcessStore } from './in-process.js';
import { redisStore } from './redis-store.js';
import { SharedLoginGuard } from './shared-guard.js';
import { shareDisabledUsers } from './shared-disabled.js';
import type { SharedStore } from './store.js';

export type { SharedStore } from './store.js';

export interface SharedState {
  readonly store: SharedStore;
  readonly guard: SharedLoginGuard;
  /** SCIM's set, or (with a store) an empty one fed by the other replicas; undefined: none. */
  readonly disabled: DisabledUsers | undefined;
  close(): Promise<void>;
}

export function failureLimits(limits: Config['limits']): FailureLimits {
  return {
    windowMs: limits.authFailWindowMs, maxPerIp: limits.authFailMaxPerIp, maxPerUser: limits.authFailMaxPerUser,
    blockMs: limits.authFailBlockMs, delayMs: limits.authFailDelayMs, delayMaxMs: limits.authFailDelayMaxMs,
    ipv6PrefixBits: limits.ipv6ClientPrefix,
  };
}

export function openSharedState(config: Config, log: Logger, scimDisabled: DisabledUsers | undefined): SharedState {
  const limits = failureLimits(config.limits);
  const store = config.sharedState ? redisStore(config.sharedState, limits, log.child({ component: 'shared-state' })) : inProcessStore();
  const guard = new SharedLoginGuard(limits, store);
  // A replica without SCIM still refuses (and revokes) the users another replica's SCIM deactivated.
  const disabled = scimDisabled ?? (store.shared ? new DisabledUsers() : undefined);
  const unshare = disabled ? shareDisabledUsers(disabled, store, log) : () => undefined;
  return {
    store,
    guard,
    disabled,
    async close() {
      unshare();
      guard.close();
      await store.close();
    },
  };
}
