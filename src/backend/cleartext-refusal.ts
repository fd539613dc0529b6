// Dovecot's refusal of any authentication on the proxy's connection for want of TLS on it: IMAP
// `NO [PRIVACYREQUIRED]`, POP3 `-ERR [AUTH] … non-secure (SSL/TLS) connections.`, ManageSieve
// `NO (ENCRYPT-NEEDED)`. It comes before any credential is looked at, so it is no verdict on the
// client's token or password: it is this leg's setting (DMS_TLS=none and the like towards DMS on
// Dovecot 2.4, which no longer counts login_trusted_networks as secured while DMS sets
// ssl = required). Taken as a wrong credential, every user heard "Authentication failed", Fail2Ban
// got a line per login and the client's address and user were blocked.
import type { BackendLoginFailure } from './login-result.js';

/** Dovecot's wording of that refusal, in 2.3 and 2.4, whatever the protocol (doctor reads it too). */
export function isCleartextRefusal(reason: string): boolean {
  return /PRIVACYREQUIRED|ENCRYPT-NEEDED|cleartext|plaintext authentication disallowed|until SSL\/TLS|non-secure/i.test(reason);
}

/** The failure for such a refusal: DMS unavailable to the client, the setting named for the operator, nothing counted. */
export function cleartextRefusal(reason: string, setting: string, code?: string): BackendLoginFailure {
  return {
    ok: false,
    kind: 'unavailable',
    reason: `${reason}: Dovecot refuses authentication without TLS on the proxy's connection (Dovecot 2.4, DMS on Debian 13, `
      + `no longer counts login_trusted_networks as secured): set ${setting}=starttls or implicit, or send a PROXY v2 header (its TLS flag)`,
    ...(code ? { code } : {}),
  };
}
