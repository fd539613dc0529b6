// What every backend login answers, whatever the protocol: the spliceable socket, or why not.
import type net from 'node:net';
import type { ClientAddress } from './client-address.js';

/**
 * `undecided`: the backend had the credentials and gave no verdict (timed out, or a temporary
 * failure). `code`: the response code of Dovecot's tagged NO (RFC 5530), e.g. LIMIT.
 */
export interface BackendLoginFailure {
  readonly ok: false;
  readonly kind: 'rejected' | 'unavailable';
  readonly reason: string;
  readonly undecided?: boolean;
  readonly code?: string;
  /**
   * Dovecot refused the authenticating credentials themselves ("Authentication failed."), not
   * the authorization ("Authorization failed": a master login for a mailbox that is no account).
   * For a master login that is the master account's fault, never the client's.
   */
  readonly authenticationFailed?: boolean;
}

/** Logged in: the socket to splice, bytes the backend sent after its OK, and what the protocol adds (capabilities, EHLO features). */
export type BackendLoginResult<Extra> =
  | ({ readonly ok: true; readonly socket: net.Socket; readonly leftover: Buffer; readonly loginMs: number } & Extra)
  | BackendLoginFailure;

/**
 * Who logs in to DMS. `vouched`: the proxy has verified the user (a token) and logs in as them
 * with the master account. `password`: the client's own credentials, passed through.
 */
export type BackendUser =
  | { readonly kind: 'vouched'; readonly user: string }
  | { readonly kind: 'password'; readonly authzid: string | undefined; readonly username: string; readonly password: string };

/** The client a login is made for: its address (passed on to DMS) and what the protocol knows of it. */
export interface BackendClient extends ClientAddress {
  /** Our session id (IMAP ID x-session-ext-id: Dovecot logs it, so log lines join up). */
  readonly sessionId?: string;
  /** The client's EHLO name (SMTP XCLIENT HELO). */
  readonly helo?: string;
  /** What the client said in IMAP ID, passed on after the address fields. */
  readonly idFields?: ReadonlyArray<readonly [string, string]>;
}

/** A backend built once at start-up with the master credentials bound in: sessions pass only who and from where. */
export type BackendTarget<Extra> = (who: BackendUser, client: BackendClient) => Promise<BackendLoginResult<Extra>>;

/** Where a backend login started with a callback ends: exactly one call, which must not throw. */
export interface BackendSink<Extra> {
  backendSettled(r: BackendLoginResult<Extra>): void;
  /** Our bug (a rejected promise inside the login), not a backend failure: those are results. */
  backendFault(err: unknown): void;
}

/** A BackendTarget that settles `sink` instead of a promise (the plaintext IMAP login has none: issue 21). */
export type BackendCall<Extra> = (who: BackendUser, client: BackendClient, sink: BackendSink<Extra>) => void;
