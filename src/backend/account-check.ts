// Does a DMS account exist for this user? Needed where the backend would not check it
// itself: XCLIENT LOGIN=<user> makes Postfix trust any name, while a master login to
// Dovecot fails for a user without an account. So the check is a master login to Dovecot
// (then LOGOUT), cached briefly: a positive answer for a few minutes, a negative one for
// less, so a newly provisioned account works soon. The login names the client (ID
// x-originating-ip): a missing account is an auth failure, and Dovecot's penalty for it
// must hold that client, not the proxy every client shares.
import { logoutAndClose } from './imap-login.js';
import type { BackendClient, BackendTarget } from './login-result.js';
import { asciiLower } from '../auth/address.js';
import { ACCOUNT_EXISTS_TTL_MS, ACCOUNT_MISSING_TTL_MS, MAX_ACCOUNT_CHECK_ENTRIES } from '../limits.js';

/** 'master-refused': Dovecot refused the master credentials themselves, so it said nothing of the account. */
export type AccountAnswer = 'exists' | 'missing' | 'unknown' | 'master-refused';

export class AccountCheck {
  private readonly cache = new Map<string, { answer: 'exists' | 'missing'; until: number }>();

  constructor(
    /** A Dovecot IMAP target (master credentials bound in). */
    private readonly login: BackendTarget<unknown>,
    private readonly ttl = { existsMs: ACCOUNT_EXISTS_TTL_MS, missingMs: ACCOUNT_MISSING_TTL_MS },
    private readonly now: () => number = Date.now,
  ) {}

  async exists(user: string, client: BackendClient): Promise<AccountAnswer> {
    const key = asciiLower(user);
    const hit = this.cache.get(key);
    if (hit && hit.until > this.now()) return hit.answer;
    const r = await this.login({ kind: 'vouched', user }, client);
    // NO [LIMIT]: the user has mail_max_userip_connections IMAP sessions from this client's
    // address, counted only after a successful authentication (Dovecot 2.3
    // login-common/sasl-server.c): the account exists. Not cached: an unusual answer.
    if (!r.ok && r.code === 'LIMIT') return 'exists';
    if (r.ok) {
      logoutAndClose(r.socket);
    } else if (r.kind === 'unavailable') {
      return 'unknown';
    } else if (r.authenticationFailed) {
      return 'master-refused'; // not cached: the operator's fix must work at once
    }
    const answer = r.ok ? 'exists' : 'missing';
    this.cache.delete(key);
    this.cache.set(key, { answer, until: this.now() + (r.ok ? this.ttl.existsMs : this.ttl.missingMs) });
    if (this.cache.size > MAX_ACCOUNT_CHECK_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    return answer;
  }

  /** Drops what is known of `user` (SCIM deleted or deactivated it): the next login asks Dovecot again. */
  forget(user: string): void {
    this.cache.delete(asciiLower(user));
  }
}
