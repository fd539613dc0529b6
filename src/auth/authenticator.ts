// One decision procedure for every protocol (IMAP and SMTP share it): given decoded SASL
// credentials, who may log in to the backend, and how.
import type { SaslCredentials } from './sasl/types.js';
import { sameUser } from './claims.js';
import { impersonation } from './master-login.js';
import type { TokenCheck } from './token-check.js';
import type { DisabledUsers } from './disabled-users.js';
import { matchAppPassword, normalizeAppPassword, type AppPasswordStore } from './app-passwords.js';

export type LoginDecision =
  /** A valid token: log in to the backend as `user` with the master account. */
  | {
      readonly outcome: 'token';
      readonly user: string;
      readonly claim: string;
      readonly issuer?: string;
      readonly mode?: string;
      readonly cached?: boolean;
      /** The app password (its id) that logged the user in, when it was not a token. */
      readonly appPassword?: string;
    }
  /**
   * A password: the backend checks it (pass-through). `username`/`authzid` go to the backend
   * as sent; `user` is the mailbox the session acts as (the target of an allowed master login).
   */
  | { readonly outcome: 'password'; readonly user: string; readonly username: string; readonly password: string; readonly authzid: string | undefined }
  /** A bad credential: AUTHENTICATIONFAILED / 535. `reason` is for the log, never the client. */
  | { readonly outcome: 'rejected'; readonly reason: string; readonly user: string | undefined }
  /** We could not decide (IdP down): UNAVAILABLE / 454. */
  | { readonly outcome: 'unavailable'; readonly reason: string; readonly user: string | undefined };

/** A cached decision may come at once (no promise): TokenChecker answers a cache hit so. */
export interface TokenDecider { check(token: string): TokenCheck | Promise<TokenCheck> }

export interface AuthenticatorOptions {
  /** Users refused before any backend login (SCIM active=false), for tokens and passwords alike. */
  readonly disabled?: DisabledUsers;
  /** ALLOW_CLIENT_MASTER_LOGIN: pass `user*master` and PLAIN authzid != authcid through to Dovecot. */
  readonly allowClientMasterLogin?: boolean;
  /** App passwords, checked by the proxy before a password goes to DMS. */
  readonly appPasswords?: AppPasswordStore;
}

/** Where a refused token's decision came from, for the log; built only for a refusal (issue 21). */
function whereOf(d: { readonly issuer?: string; readonly mode?: string }): string {
  return d.issuer ? ` [issuer ${d.issuer}${d.mode ? `, mode ${d.mode}` : ''}]` : '';
}

export class Authenticator {
  constructor(
    private readonly tokens: TokenDecider,
    private readonly onClose: () => Promise<void> = () => Promise.resolve(),
    private readonly opts: AuthenticatorOptions = {},
  ) {}

  async decide(creds: SaslCredentials): Promise<LoginDecision> {
    return this.decideNow(creds);
  }

  /**
   * decide() with no promise where nothing waits: a cached token decision, a password with no
   * app password to look up. A session's login takes it as it comes (issue 21: each promise a
   * hop of the microtask queue, run cold next to Dovecot).
   */
  decideNow(creds: SaslCredentials): LoginDecision | Promise<LoginDecision> {
    if (creds.kind === 'password') return this.decidePassword(creds);
    const d = this.tokens.check(creds.token);
    return d instanceof Promise ? d.then((checked) => this.decideToken(creds, checked)) : this.decideToken(creds, d);
  }

  private decidePassword(creds: Extract<SaslCredentials, { kind: 'password' }>): LoginDecision | Promise<LoginDecision> {
    const other = impersonation(creds.username, creds.authzid);
    if (other && !this.opts.allowClientMasterLogin) {
      const how = other.via === 'authzid' ? 'an authzid other than the user name' : 'the master-user separator';
      return { outcome: 'rejected', reason: `login as another user (${how}) is off: ALLOW_CLIENT_MASTER_LOGIN`, user: other.target };
    }
    const user = other?.target ?? creds.username;
    const off = this.disabledAs(user, creds.username, creds.authzid);
    if (off) return { outcome: 'rejected', reason: `user disabled: ${off}`, user };
    // An app password logs in as its user with the master account; any other password goes
    // to DMS as before. Not for a login as another user: that is DMS's master login.
    const store = this.opts.appPasswords;
    if (store && !other) return this.decideAppPassword(creds, user, store);
    return { outcome: 'password', user, username: creds.username, password: creds.password, authzid: creds.authzid };
  }

  private async decideAppPassword(creds: Extract<SaslCredentials, { kind: 'password' }>, user: string, store: AppPasswordStore): Promise<LoginDecision> {
    const records = await store.list(creds.username).catch((err: Error) => err);
    if (records instanceof Error) {
      // The store did not answer. A password in the form of an app password cannot be
      // checked: fail closed, as temporarily unavailable (not a wrong password, not sent
      // to DMS). Any other password is no app password (every one is generated in that
      // form): it goes to DMS as usual.
      if (normalizeAppPassword(creds.password) !== null) return { outcome: 'unavailable', reason: `app password not checked: ${records.message}`, user };
    } else {
      const hit = await matchAppPassword(creds.password, records);
      if (hit) return { outcome: 'token', user: hit.user, claim: 'app-password', mode: 'app-password', appPassword: hit.id };
    }
    return { outcome: 'password', user, username: creds.username, password: creds.password, authzid: creds.authzid };
  }

  private decideToken(creds: Extract<SaslCredentials, { kind: 'token' }>, d: TokenCheck): LoginDecision {
    if (d.status === 'unavailable') return { outcome: 'unavailable', reason: d.reason + whereOf(d), user: creds.authzid };
    if (d.status === 'invalid') return { outcome: 'rejected', reason: d.reason + whereOf(d), user: creds.authzid };
    if (!sameUser(creds.authzid, d.user)) {
      return { outcome: 'rejected', reason: `token belongs to ${d.user}, not to the requested user${whereOf(d)}`, user: creds.authzid };
    }
    const off = this.disabledAs(d.user);
    if (off) return { outcome: 'rejected', reason: `user disabled: ${off}${whereOf(d)}`, user: d.user };
    return { outcome: 'token', user: d.user, claim: d.claim, issuer: d.issuer, mode: d.mode, cached: d.cached };
  }

  /**
   * Why a login decided here is refused now, or undefined: its user disabled or deleted over
   * SCIM while the backend login was in flight. Asked before the client is told OK, so such a
   * session never starts (nothing it pipelined behind the login is served).
   */
  refusedSince(d: LoginDecision): string | undefined {
    const off = d.outcome === 'password' ? this.disabledAs(d.user, d.username, d.authzid) : this.disabledAs(d.user);
    return off ? `user disabled: ${off}` : undefined;
  }

  /**
   * Why a login's user is disabled over SCIM, or undefined. A password login names every name
   * Dovecot may act as: the target of a master login as well as the name itself and authzid.
   */
  private disabledAs(user: string | undefined, username?: string, authzid?: string): string | undefined {
    const disabled = this.opts.disabled;
    if (!disabled) return undefined;
    return disabled.reason(user || undefined) || disabled.reason(username || undefined) || disabled.reason(authzid || undefined);
  }

  /** A login decided here succeeded at the backend: app passwords note when, from where, over what. */
  succeeded(d: LoginDecision, address: string, protocol: string): void {
    if (d.outcome === 'token' && d.appPassword) this.opts.appPasswords?.used(d.appPassword, Date.now(), address, protocol);
  }

  /** True when some logins can be decided without the IdP (cached token decisions). */
  hasCachedState(): boolean {
    return ((this.tokens as { cachedEntries?: number }).cachedEntries ?? 0) > 0;
  }

  close(): Promise<void> {
    return this.onClose();
  }
}
