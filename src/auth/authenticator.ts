// One decision procedure for every protocol (IMAP and SMTP share it): given decoded SASL
// credentials, who may log in to the backend, and how.
import type { SaslCredentials } from './sasl/types.js';
import { mapUsername, sameUser } from './claims.js';
import type { TokenValidator } from './token-result.js';

export type LoginDecision =
  /** A valid token: log in to the backend as `user` with the master account. */
  | { readonly outcome: 'token'; readonly user: string; readonly claim: string }
  /** A password: the backend checks it, as the user's own login (pass-through). */
  | { readonly outcome: 'password'; readonly user: string; readonly password: string; readonly authzid: string | undefined }
  /** A bad credential: AUTHENTICATIONFAILED / 535. `reason` is for the log, never the client. */
  | { readonly outcome: 'rejected'; readonly reason: string; readonly user: string | undefined }
  /** We could not decide (IdP down): UNAVAILABLE / 454. */
  | { readonly outcome: 'unavailable'; readonly reason: string; readonly user: string | undefined };

export interface AuthenticatorOptions { readonly usernameAttribute: string }

export class Authenticator {
  constructor(private readonly validator: TokenValidator, private readonly options: AuthenticatorOptions) {}

  async decide(creds: SaslCredentials): Promise<LoginDecision> {
    if (creds.kind === 'password') {
      return { outcome: 'password', user: creds.username, password: creds.password, authzid: creds.authzid };
    }
    const result = await this.validator.validate(creds.token);
    if (result.status === 'unavailable') return { outcome: 'unavailable', reason: result.reason, user: creds.authzid };
    if (result.status === 'invalid') return { outcome: 'rejected', reason: result.reason, user: creds.authzid };
    const mapped = mapUsername(result.claims, this.options.usernameAttribute);
    if (!mapped.ok) return { outcome: 'rejected', reason: mapped.reason, user: creds.authzid };
    if (!sameUser(creds.authzid, mapped.user)) {
      return { outcome: 'rejected', reason: `token belongs to ${mapped.user}, not to the requested user`, user: creds.authzid };
    }
    return { outcome: 'token', user: mapped.user, claim: mapped.claim };
  }

  close(): Promise<void> {
    return this.validator.close();
  }
}
