// What a backend login's result means for the client, the log and the failure counts; one
// copy for IMAP and SMTP. A password the backend refused is a failed login. One it left
// undecided (no verdict in time, or a temporary failure: Postfix gives up on Dovecot after
// 10 s) while this client has recent failures is counted as one too: Dovecot's auth penalty
// holds exactly such a client's logins, and a guesser must not get unlimited, uncounted tries
// that Fail2Ban never sees by being slow (issue 16 item 10).

/** A backend login's failure, as imap-login.ts and smtp-login.ts report it. */
export interface BackendFailure { readonly kind: 'rejected' | 'unavailable'; readonly reason: string; readonly undecided?: boolean; readonly authenticationFailed?: boolean }

export type BackendVerdict = { readonly kind: 'failed' | 'unavailable'; readonly reason: string };

export function backendVerdict(via: 'token' | 'password', user: string, r: BackendFailure, recentFailures: number): BackendVerdict {
  if (r.kind === 'rejected' && via === 'token' && r.authenticationFailed) {
    // A master login whose credentials Dovecot refused: no secret of the client's was tried (its
    // token or app password was checked here), so it is the proxy's setting, not a failed login.
    return { kind: 'unavailable', reason: `Dovecot refused the master account (DMS_MASTER_USER/DMS_MASTER_PASSWORD; setup dovecot-master add in DMS) logging in as ${user}: ${r.reason}` };
  }
  if (r.kind === 'rejected') {
    return { kind: 'failed', reason: via === 'token' ? `backend refused the master login for ${user} (no such DMS account?): ${r.reason}` : r.reason };
  }
  if (via === 'password' && r.undecided && recentFailures > 0) {
    return { kind: 'failed', reason: `no backend verdict after ${recentFailures} recent failure(s) from this client (Dovecot's auth penalty): ${r.reason}` };
  }
  return { kind: 'unavailable', reason: r.reason };
}
