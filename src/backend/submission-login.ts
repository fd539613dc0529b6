// How an SMTP client whose credentials the proxy has decided on is logged in to DMS: what
// Dovecot must be asked first, then the Postfix login (smtp-login.ts).
//
// Dovecot's auth penalty (2 s, 4 s, 8 s, up to 15 s before it even checks a login) is kept
// per remote IP, and Postfix asks Dovecot's auth with the address Postfix sees. With XCLIENT
// ADDR or a PROXY v2 header Postfix sees the client; in master mode without PROXY it sees
// the proxy, so one client's wrong passwords held every client's SMTP login (token logins
// included) until Postfix gave up with 454. There a password is first checked over IMAP with
// ID x-originating-ip (the penalty lands on the client, as on the IMAP port), and Postfix
// gets the master login for the verified user: no client's password reaches Postfix's SASL.
// A token user's account is checked the same way (cached) before the master login.
import { logoutAndClose } from './imap-login.js';
import type { SmtpBackendTarget } from './smtp-login.js';
import type { AccountCheck } from './account-check.js';
import type { BackendTarget } from './login-result.js';
import { impersonation } from '../auth/master-login.js';
import { faultMessage } from '../observability/faults.js';

type Submission = BackendTarget<{ readonly features: Map<string, string> }>;

export function submissionLogin(
  at: Pick<SmtpBackendTarget, 'login' | 'proxyProtocol'>,
  postfix: Submission,
  imap: BackendTarget<unknown>,
  accounts: AccountCheck,
): Submission {
  const postfixSeesClient = at.login === 'xclient' || at.proxyProtocol === true;

  return async (who, client) => {
    let checkMs = 0;
    if (who.kind === 'password' && !postfixSeesClient) {
      const checked = await imap(who, client);
      if (checked.ok) {
        logoutAndClose(checked.socket);
        checkMs = checked.loginMs;
        // The user Dovecot logged in: a client's own master login (ALLOW_CLIENT_MASTER_LOGIN) acts as its target.
        who = { kind: 'vouched', user: impersonation(who.username, who.authzid)?.target ?? who.username };
      } else if (checked.code !== 'LIMIT') {
        return checked; // the same verdicts as a Postfix login: rejected, unavailable, undecided
      }
      // NO [LIMIT]: the user already has mail_max_userip_connections IMAP sessions from this
      // address (Dovecot 2.3 login-common/sasl-server.c counts them only after a successful
      // authentication). SMTP opens no IMAP session, so the client must not be refused for it;
      // failing closed, Postfix's SASL checks the password itself, as without this check.
    } else if (who.kind === 'vouched' && (at.login === 'xclient' || !postfixSeesClient)) {
      // XCLIENT LOGIN would let Postfix accept any name; a master login Postfix refuses (no
      // such account) would be a failure from the proxy's address. Check the account first.
      let answer: Awaited<ReturnType<AccountCheck['exists']>>;
      try {
        answer = await accounts.exists(who.user, client);
      } catch (err) {
        // A throw, not an answer (a bug, or a master login that broke its contract): the
        // answer of an unreachable Dovecot (454, try later), not an internal error (421).
        return { ok: false, kind: 'unavailable', reason: `the DMS account check failed: ${faultMessage(err, 200)}` };
      }
      if (answer === 'missing') return { ok: false, kind: 'rejected', reason: `no DMS account ${who.user} (master login to Dovecot refused)` };
      if (answer === 'master-refused') return { ok: false, kind: 'rejected', authenticationFailed: true, reason: 'the DMS account check\'s master login to Dovecot was refused' };
      if (answer === 'unknown') return { ok: false, kind: 'unavailable', reason: 'cannot check the DMS account: Dovecot unreachable' };
    }
    const r = await postfix(who, client);
    return r.ok ? { ...r, loginMs: r.loginMs + checkMs } : r;
  };
}
