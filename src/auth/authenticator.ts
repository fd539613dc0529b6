// One decision procedure for every protocol (IMAP and SMTP share it): given decoded SASL
// credentials, who may log in to the backend, and how.
import type { SaslCredentials } from './sasl/types.js';
import { sameUser } from './claims.js';
import { impersonation } from './master-login.js';
import type { TokenCheck } from './token-check.js';
import type { DisabledUsers } from './disabled-users.js';

export type LoginDecision =
  /** A valid token: log in to the backend as `user` with the master account. */
  | {
      readonly outcome: 'token';
      readonly user: string;
      readonly claim: string;
      readonly issuer?: string;
      readonly mode?: string;
      readonly cached?: boolean;
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

export interface TokenDecider { check(token: string): Promise<TokenCheck> }

export interface AuthenticatorOptions {
  /** Users refused before any backend login (SCIM active=false), for tokens and passwords alike. */
  readonly disabled?: DisabledUsers;
  /** ALLOW_CLIENT_MASTER_LOGIN: pass `user*master` and PLAIN authzid != authcid through to Dovecot. */
  readonly allowClientMasterLogin?: boolean;
}

export class Authenticator {
  constructor(
    private readonly tokens: TokenDecider,
    private readonly onClose: () => Promise<void> = () => Promise.resolve(),
    private readonly opts: AuthenticatorOptions = {},
  ) {}

  async decide(creds: SaslCredentials): Promise<LoginDecision> {
    if (creds.kind === 'password') {
      const other = impersonation(creds.username, creds.authzid);
      if (other && !this.opts.allowClientMasterLogin) {
        const how = other.via === 'authzid' ? 'an authzid other than the user name' : 'the master-user separator';
        return { outcome: 'rejected', reason: `login as another user (${how}) is off: ALLOW_CLIENT_MASTER_LOGIN`, user: other.target };
      }
      const user = other?.target ?? creds.username;
      // Every name Dovecot may act as: the target of a master login as well as the name itself.
      for (const name of [user, creds.username, creds.authzid]) {
        const off = this.opts.disabled?.reason(name || undefined);
        if (off) return { outcome: 'rejected', reason: `user disabled: ${off}`, user };
      }
      return { outcome: 'password', user, username: creds.username, password: creds.password, authzid: creds.authzid };
    }
    const d = await this.tokens.check(creds.token);
    const where = d.issuer ? ` [issuer ${d.issuer}${d.mode ? `, mode ${d.mode}` : ''}]` : '';
    if (d.status === 'unavailable') return { outcome: 'unavailable', reason: d.reason + where, user: creds.authzid };
    if (d.status === 'invalid') return { outcome: 'rejected', reason: d.reason + where, user: creds.authzid };
    if (!sameUser(creds.authzid, d.user)) {
      return { outcome: 'rejected', reason: `token belongs to ${d.user}, not to the requested user${where}`, user: creds.authzid };
    }
    const off = this.opts.disabled?.reason(d.user);
    if (off) return { outcome: 'rejected', reason: `user disabled: ${off}${where}`, user: d.user };
    return { outcome: 'token', user: d.user, claim: d.claim, issuer: d.issuer, mode: d.mode, cached: d.cached };
  }

  /** True when some logins can be decided without the IdP (cached token decisions). */
  hasCachedState(): boolean {
    return ((this.tokens as { cachedEntries?: number }).cachedEntries ?? 0) > 0;
  }

  close(): Promise<void> {
    return this.onClose();
  }
}
