// Where and how to reach DMS, built once at start-up with the master credentials bound in.
// Every login to DMS goes through one of these: the IMAP and SMTP sessions, the submission
// account check and doctor. A session passes only who logs in and from where; the master
// password never travels through a client-facing session.
import type { Config } from '../config/types.js';
import type { BackendTlsOptions } from './dial.js';
import type { BackendCredentials } from './credentials.js';
import type { BackendCall, BackendClient, BackendTarget, BackendUser } from './login-result.js';
import { originatingIdFields } from './client-address.js';
import { imapLogin, imapLoginTo, type ImapBackendTarget } from './imap-login.js';
import { imapIdLine } from './imap-id.js';
import { saslPlainOf } from './credentials.js';
import { smtpBackendLogin, type SmtpBackendTarget } from './smtp-login.js';
import { AccountCheck } from './account-check.js';
import { submissionLogin } from './submission-login.js';
import { manageSieveBackendLogin, type ManageSieveBackendTarget, type SieveCapabilities } from './managesieve-login.js';
import { pop3BackendLogin, type Pop3BackendTarget } from './pop3-login.js';

export interface BackendTargets {
  /** Dovecot IMAP: the login answers with the capabilities Dovecot sends after it. */
  readonly imap: BackendTarget<{ readonly capabilities: string }>;
  /** The same login settling a callback: an IMAP session's (no promise over plaintext, issue 21). */
  readonly imapCall: BackendCall<{ readonly capabilities: string }>;
  /** Postfix submission as DMS needs it (see submission-login.ts): the login answers with its EHLO features. */
  readonly submission: BackendTarget<{ readonly features: Map<string, string> }>;
  /** Postfix submission with no account check first (doctor checks exactly what Postfix says). */
  readonly submissionDirect: BackendTarget<{ readonly features: Map<string, string> }>;
  /** Does a DMS account exist (a cached master login to Dovecot)? */
  readonly accounts: AccountCheck;
  /** Where Postfix is, for the EHLO feature probe (no login). */
  readonly submissionEndpoint: SmtpBackendTarget;
  /** Dovecot ManageSieve: the login answers with the capabilities its greeting listed. */
  readonly managesieve: BackendTarget<{ readonly capabilities: SieveCapabilities }>;
  /** Where Dovecot ManageSieve is, for the capability probe (no login). */
  readonly managesieveEndpoint: ManageSieveBackendTarget;
  /** Dovecot POP3 (DMS ENABLE_POP3=1): whether Dovecot took the client's address comes back with the socket. */
  readonly pop3: BackendTarget<{ readonly addressPassed: boolean }>;
}

type Master = { readonly user: string; readonly password: string };

export function credentialsFor(who: BackendUser, master: Master): BackendCredentials {
  return who.kind === 'vouched'
    ? { kind: 'master', user: who.user, masterUser: master.user, masterPassword: master.password }
    : { kind: 'password', authzid: who.authzid, username: who.username, password: who.password };
}

/** IMAP ID fields (RFC 2971) for a login: the client's address, our session id, then what the client said in its own ID. */
export function idFieldsFor(client: BackendClient): Array<[string, string]> {
  const fields = originatingIdFields(client);
  if (client.sessionId) fields.push(['x-session-ext-id', client.sessionId]);
  if (client.idFields) for (const [k, v] of client.idFields) fields.push([k, v]);
  return fields;
}

/** SASL PLAIN for a login as `who`, without the credentials object (issue 21: a login's allocations). */
export function saslPlainFor(who: BackendUser, master: Master): string {
  return who.kind === 'vouched' ? saslPlainOf(who.user, master.user, master.password) : saslPlainOf(who.authzid ?? '', who.username, who.password);
}

export function backendTargets(config: Pick<Config, 'backend' | 'smtp' | 'proxyProtocol'>, tlsOptions: BackendTlsOptions): BackendTargets {
  const b = config.backend;
  const master: Master = { user: b.masterUser, password: b.masterPassword };
  const imapAt: ImapBackendTarget = { host: b.host, port: b.imapPort, tls: b.tls, tlsOptions, timeoutMs: b.timeoutMs, proxyProtocol: config.proxyProtocol.toImap };
  const smtpAt: SmtpBackendTarget = {
    host: b.host, port: b.submissionPort, tls: b.submissionTls, tlsOptions, timeoutMs: b.timeoutMs,
    heloName: config.smtp.hostname, login: b.submissionLogin, proxyProtocol: config.proxyProtocol.toSubmission,
  };
  const sieveAt: ManageSieveBackendTarget = {
    host: b.host, port: b.managesievePort, tls: b.managesieveTls, tlsOptions, timeoutMs: b.timeoutMs, proxyProtocol: config.proxyProtocol.toManagesieve,
  };
  const idOmitsAddress = imapAt.proxyProtocol === true;
  const imap: BackendTargets['imap'] = (who, client) => imapLogin(imapAt, client, saslPlainFor(who, master), imapIdLine(client, idOmitsAddress));
  const imapCall: BackendTargets['imapCall'] = (who, client, sink) => imapLoginTo(imapAt, client, saslPlainFor(who, master), imapIdLine(client, idOmitsAddress), sink);
  const submissionDirect: BackendTargets['submissionDirect'] = (who, client) =>
    smtpBackendLogin(smtpAt, { credentials: credentialsFor(who, master), client: { ...client, helo: client.helo } });
  const pop3At: Pop3BackendTarget = { host: b.host, port: b.pop3Port, tls: b.pop3Tls, tlsOptions, timeoutMs: b.timeoutMs, proxyProtocol: config.proxyProtocol.toPop3 };
  const pop3: BackendTargets['pop3'] = (who, client) => pop3BackendLogin(pop3At, credentialsFor(who, master), client);
  const accounts = new AccountCheck(imap);
  return {
    imap,
    imapCall,
    submission: submissionLogin(smtpAt, submissionDirect, imap, accounts),
    submissionDirect,
    accounts,
    submissionEndpoint: smtpAt,
    managesieve: (who, client) => manageSieveBackendLogin(sieveAt, { credentials: credentialsFor(who, master), client }),
    managesieveEndpoint: sieveAt,
    pop3,
  };
}
