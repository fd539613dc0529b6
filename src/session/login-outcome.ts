// What a login attempt ends in, for every protocol. The protocol module turns each kind into
// its own reply (IMAP `NO [UNAVAILABLE]`, SMTP 454, POP3 `-ERR [SYS/TEMP]`, ...); the
// decisions, log events, metrics and failure counts behind them are made once, in login.ts.
import type net from 'node:net';

export type LoginOutcome<Extra> =
  /** Logged in to the backend as `user`: reply success, then splice `backend.socket`. */
  | {
      readonly kind: 'ok';
      readonly user: string;
      readonly mech: string;
      /** The id of the app password it logged in with (its sessions end when it is revoked). */
      readonly appPassword?: string;
      readonly backend: { readonly socket: net.Socket; readonly leftover: Buffer; readonly loginMs: number } & Extra;
    }
  /** Bad credentials (logged, counted, delayed): the failure reply; `last`: then close, the budget is spent. */
  | { readonly kind: 'rejected'; readonly last: boolean }
  /** The client (or, for a password, the user) is blocked after repeated failures: close at once. */
  | { readonly kind: 'blocked' }
  /** The IdP could not decide: a temporary failure. */
  | { readonly kind: 'unavailable' }
  /** DMS did not answer the login: a temporary failure. */
  | { readonly kind: 'backend-unavailable' }
  /** A response that is not canonical base64, or too long: a syntax error reply (not counted as a failed login). */
  | { readonly kind: 'malformed' }
  /** The client cancelled the exchange (`*`). */
  | { readonly kind: 'cancelled' }
  /** The client left meanwhile: nothing to say. */
  | { readonly kind: 'gone' };

/** The outcomes a protocol answers with a temporary failure. */
export function isTemporary(o: LoginOutcome<unknown>): boolean {
  return o.kind === 'unavailable' || o.kind === 'backend-unavailable';
}
