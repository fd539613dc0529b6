// A password login that asks Dovecot to act as another user: the master-user separator in
// the user name (`alice@x*admin`, DMS's auth_master_user_separator = *) or a SASL PLAIN
// authzid that differs from the authcid (RFC 4616 §2: "act as" the authzid). The proxy passes
// passwords through, so without this check a client holding a master password (or any
// account Dovecot lets impersonate) would log in as a user the proxy has disabled, and the
// session would be indexed under the wrong name for revocation (issue 16).

/** Dovecot's auth_master_user_separator as DMS sets it. */
export const MASTER_SEPARATOR = '*';

/** The user Dovecot will log in as, when that is not the name that authenticates. */
export interface Impersonation {
  readonly target: string;
  readonly via: 'authzid' | 'separator';
}

/**
 * Mirrors Dovecot 2.3 (auth-request.c, mech-plain.c): an authzid byte-for-byte equal to the
 * authcid is no authzid; otherwise the authzid wins; else the name before the first
 * separator is the login user and the rest the master user.
 */
export function impersonation(username: string, authzid: string | undefined): Impersonation | undefined {
  if (authzid !== undefined && authzid !== '' && authzid !== username) return { target: authzid, via: 'authzid' };
  const at = username.indexOf(MASTER_SEPARATOR);
  return at === -1 ? undefined : { target: username.slice(0, at), via: 'separator' };
}
