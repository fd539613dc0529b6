// Accounts created on first login (PROVISION_ON_LOGIN, issue 19). Before a token login goes
// to DMS, the mailbox is looked up in postfix-accounts.cf (DMS_CONFIG_DIR); when it has no
// line, one is written (the same writer and the same unusable password as SCIM's), and Dovecot
// is asked with a master login until DMS's change detection has picked it up, no longer than
// waitMs. Then the login goes on as for any account.
//
// The file decides, not a refused login: DMS (ACCOUNT_PROVISIONER=FILE) builds Dovecot's
// userdb from that file, while Dovecot answers a master login for a missing user exactly as
// one with a wrong master password (AUTHENTICATIONFAILED), and every refused login costs the
// client's address Dovecot's auth penalty (2, 4, 8 ... s) and counts towards DMS's Fail2Ban
// ban. So a first login starts with no refused login at all, and probing starts only once
// DMS can have taken the line up (PROVISION_FIRST_PROBE_MS).
//
// One flight per mailbox: parallel first logins of one user write one line and wait together.
// A line this process wrote that DMS has not taken up yet (an earlier wait ran out) is waited
// for again, so the client keeps getting "try later", not "wrong credentials". Nothing here
// checks the token or the policy: callers come after the authenticator accepted a token
// (never a password), so a user the policy refuses never gets this far. A user SCIM deleted
// (or deactivated) after that decision is checked for again under the config dir's one
// writer, right before the line would be written: SCIM's deletion runs under the same
// writer, so a login that raced it never writes the account back.
import type { DisabledUsers } from '../auth/disabled-users.js';
import type { AccountCheck } from '../backend/account-check.js';
import type { BackendClient } from '../backend/login-result.js';
import type { Logger } from '../observability/logger.js';
import { Singleflight } from '../auth/singleflight.js';
import type { DmsConfigDir } from '../state/dms/config-dir.js';
import { mailAddress } from '../state/dms/mail-address.js';
import { faultMessage } from '../observability/faults.js';
import { MAX_PROVISION_PENDING, PROVISION_FIRST_PROBE_MS, PROVISION_PROBE_INTERVAL_MS } from '../limits.js';

export type ProvisionResult =
  /** The account was written now (by this call or the flight it joined) and Dovecot accepts its master login. */
  | { readonly kind: 'ready'; readonly mailbox: string }
  /** postfix-accounts.cf has the account already (or the address is an alias there): nothing was written. */
  | { readonly kind: 'exists'; readonly mailbox: string }
  /** Nothing was or will be written (not an address DMS can hold, the file unreadable): the login goes on as without provisioning. */
  | { readonly kind: 'skipped'; readonly reason: string }
  /** SCIM deleted or deactivated the user after the login was decided: refused like them, nothing written. */
  | { readonly kind: 'refused'; readonly reason: string }
  /** Written, but DMS did not pick it up in time, or the file could not be written: try again later. */
  | { readonly kind: 'unavailable'; readonly reason: string };

/** What a login flow (and the self-service portal) asks for: "make sure this mailbox has a DMS account". */
export interface Provisioner {
  /** Never rejects: a failure, ours included, is a result ('unavailable' for "try again later"). */
  ensure(user: string, client: BackendClient): Promise<ProvisionResult>;
}

export class LoginProvisioner implements Provisioner {
  private readonly flights = new Singleflight<ProvisionResult>();
  /** Mailboxes written here that Dovecot has not accepted yet; oldest first out. */
  private readonly pending = new Set<string>();

  constructor(
    private readonly files: DmsConfigDir,
    /** Dovecot's answer to a master login (cached; forgotten here before each question). */
    private readonly accounts: AccountCheck,
    private readonly waitMs: number,
    private readonly log: Logger,
    /** SCIM's refused users (deactivated, or deleted with their account), asked again under the writer. */
    private readonly disabled?: Pick<DisabledUsers, 'reason'>,
    private readonly probeMs = { first: PROVISION_FIRST_PROBE_MS, interval: PROVISION_PROBE_INTERVAL_MS },
  ) {}

  async ensure(user: string, client: BackendClient): Promise<ProvisionResult> {
    const mailbox = mailAddress(user);
    if (mailbox === null) return { kind: 'skipped', reason: `${JSON.stringify(user)} is not an address DMS can hold as an account` };
    if (!this.pending.has(mailbox)) {
      try {
        if (await this.files.hasAccount(mailbox)) return { kind: 'exists', mailbox }; // every later login: a stat
      } catch (err) {
        const reason = `cannot read ${this.files.dir}/postfix-accounts.cf: ${(err as Error).message}`;
        this.log.error({ event: 'provision-failed', user: mailbox, reason }, 'cannot tell whether the DMS account exists');
        return { kind: 'skipped', reason };
      }
    }
    return this.flights.run(mailbox, () => this.provision(mailbox, client));
  }

  private async provision(mailbox: string, client: BackendClient): Promise<ProvisionResult> {
    let did: Awaited<ReturnType<DmsConfigDir['ensureAccount']>>;
    try {
      did = await this.files.ensureAccount(mailbox, () => this.disabled?.reason(mailbox));
    } catch (err) {
      const reason = `cannot write ${this.files.dir}/postfix-accounts.cf: ${(err as Error).message}`;
      this.log.error({ event: 'provision-failed', user: mailbox, reason }, 'could not create the DMS account');
      return { kind: 'unavailable', reason };
    }
    if (typeof did === 'object') return { kind: 'refused', reason: did.refused };
    if (did !== 'written' && !this.pending.has(mailbox)) return { kind: 'exists', mailbox };
    if (did === 'written') {
      this.pending.add(mailbox);
      if (this.pending.size > MAX_PROVISION_PENDING) this.pending.delete(this.pending.values().next().value!);
      this.log.info({ event: 'account-provisioned', user: mailbox, dir: this.files.dir }, 'DMS account created on first login');
    }
    try {
      return await this.pickedUp(mailbox, client);
    } catch (err) {
      // A throw, not an answer (a bug, or a master login that broke its contract of answering
      // every failure as a result): the same "try later" as a wait that ran out, never a
      // rejection (the portal made that a 500; a session, an internal error). The mailbox stays
      // pending, so the retry waits for DMS again instead of meeting a refused master login.
      const reason = `the DMS account check failed: ${faultMessage(err, 200)}`;
      this.log.error({ event: 'provision-failed', user: mailbox, reason }, 'could not check the new DMS account');
      return { kind: 'unavailable', reason };
    }
  }

  /** Asks Dovecot until it knows `mailbox` ('ready') or waitMs has passed ('unavailable'). */
  private async pickedUp(mailbox: string, client: BackendClient): Promise<ProvisionResult> {
    const started = Date.now();
    const deadline = started + this.waitMs;
    await sleep(Math.min(this.probeMs.first, this.waitMs));
    for (;;) {
      this.accounts.forget(mailbox); // a cached "missing" must not answer for Dovecot
      const answer = await beforeDeadline(this.accounts.exists(mailbox, client), deadline);
      if (answer === 'exists') {
        this.pending.delete(mailbox);
        this.log.info({ event: 'account-ready', user: mailbox, waitedMs: Date.now() - started }, 'DMS picked up the new account');
        return { kind: 'ready', mailbox };
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const reason = `DMS did not pick up the new account ${mailbox} within ${this.waitMs} ms (PROVISION_WAIT_MS): is its change detection running, with ACCOUNT_PROVISIONER=FILE?`;
        this.log.warn({ event: 'provision-timeout', user: mailbox, waitMs: this.waitMs, reason }, 'new DMS account not picked up in time');
        return { kind: 'unavailable', reason };
      }
      await sleep(Math.min(this.probeMs.interval, left));
    }
  }
}

/** `p`'s answer, or 'late' once `deadline` (epoch ms) has passed; a late answer is dropped. */
async function beforeDeadline<T>(p: Promise<T>, deadline: number): Promise<T | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), Math.max(0, deadline - Date.now())); });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
