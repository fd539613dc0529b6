// The state replicas share (issue 20), as the rest of the proxy sees it: failure counts and
// blocks, and the deactivated users. Two implementations: in-process (one instance, today's
// behaviour: nothing is shared, every answer is "decide locally") and Redis/Valkey
// (redis-store.ts). Every call is bounded and never throws: null means "the store did not
// answer, decide with your own state", so a store down or slow never blocks a valid login.
//
// This room sits between auth/ and session/: it may use auth/, config/ and observability/,
// never session/ or a protocol.

export type FailureScope = 'ip' | 'user';

/** A failure counted in the store: failures in the window so far, and the block it started (0: none). */
export interface SharedCount { readonly count: number; readonly blockedMs: number }

import type { DisabledChange } from '../auth/disabled-users.js';

/** A change to the deactivated users, as SCIM made it on one replica. */
export type UserChange = DisabledChange;

/** What the store has: deactivated users (lower case → reason), and whether it kept its data since we last saw it. */
export interface SharedUsers { readonly users: ReadonlyMap<string, string>; readonly sameData: boolean }

export interface StoreListener {
  /** Another replica blocked `key` (e.g. `ip:192.0.2.1`) until `untilMs` (epoch ms). */
  block?(key: string, untilMs: number): void;
  /** Another replica changed a user. */
  user?(change: UserChange): void;
  /** The store is reachable (first time or again): re-read what may have been missed. */
  joined?(): void;
  /** The store was lost: what is announced from now on may be missed until joined(). */
  left?(): void;
}

export interface SharedStore {
  /** False for the in-process store: callers then skip every call. */
  readonly shared: boolean;
  /** One more failure for `key`; null when the store did not answer in time. */
  addFailure(scope: FailureScope, key: string): Promise<SharedCount | null>;
  /** How long `key` is still blocked (0: not), or null. */
  blockedMs(scope: FailureScope, key: string): Promise<number | null>;
  /** Takes back `n` failures of an IP key (a typo followed by the right password); never lifts a block. */
  forgetFailures(key: string, n: number): Promise<void>;
  /** Records and announces a user change; false when the store did not take it. */
  changeUser(change: UserChange): Promise<boolean>;
  /** The deactivated users in the store, or null. */
  readUsers(): Promise<SharedUsers | null>;
  /** Users deleted (SCIM) since `sinceMs` (epoch ms, as the deleting replica's clock read it), or null. */
  readRemoved(sinceMs: number): Promise<readonly string[] | null>;
  /** Adds users the store lost (after its restart without persistence); false when it failed. */
  addUsers(users: ReadonlyMap<string, string>): Promise<boolean>;
  /** The blocks in force (key → until, epoch ms), or null. */
  readBlocks(): Promise<ReadonlyMap<string, number> | null>;
  /** A token decision another replica put (JSON) and the milliseconds it has left, or null (none, or no answer). */
  getDecision(key: string): Promise<{ readonly json: string; readonly ttlMs: number } | null>;
  /** Shares a positive token decision for `ttlMs` (a failure is only counted). */
  putDecision(key: string, json: string, ttlMs: number): void;
  listen(l: StoreListener): () => void;
  /** For readiness: reachable, and a line for /readyz. */
  status(): { readonly up: boolean; readonly detail: string };
  close(): Promise<void>;
}
