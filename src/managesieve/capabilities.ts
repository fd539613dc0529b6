// What the proxy's ManageSieve greeting promises (RFC 5804 §1.7). SASL and STARTTLS are ours;
// SIEVE (the extensions scripts may use), NOTIFY and MAXREDIRECTS are Dovecot's, because from
// the login on the client talks to Dovecot: a script the proxy let pass as valid would be
// refused there. They are read from the backend's greeting at start-up and at every login
// (like smtp/features.ts does for EHLO), with Dovecot 2.3's own list until the first answer.
import { quote } from './parser.js';

export const SASL_MECHANISMS = ['OAUTHBEARER', 'XOAUTH2', 'PLAIN', 'LOGIN'] as const;

/** The capabilities taken over from the backend: upper-case name → value. */
export type BackendSieveCapabilities = ReadonlyMap<string, string>;

/** Which backend capabilities are passed on; the rest are about the backend's own login. */
export const FROM_BACKEND = ['SIEVE', 'NOTIFY', 'MAXREDIRECTS'] as const;

/** Dovecot 2.3 Pigeonhole's defaults (DMS), used until the backend has been asked. */
export const DOVECOT_DEFAULT_CAPABILITIES: BackendSieveCapabilities = new Map([
  ['SIEVE', 'fileinto reject envelope encoded-character vacation subaddress comparator-i;ascii-numeric relational regex imap4flags copy include variables body enotify environment mailbox date index ihave duplicate mime foreverypart extracttext'],
  ['NOTIFY', 'mailto'],
]);

/** The backend's last known capabilities, shared by the sessions of one service. */
export class SieveCapabilitySource {
  private known: BackendSieveCapabilities = DOVECOT_DEFAULT_CAPABILITIES;

  get current(): BackendSieveCapabilities { return this.known; }

  /** What a backend greeting listed (probe or login); ignored when it has no SIEVE (not a real answer). */
  update(fromBackend: BackendSieveCapabilities): void {
    if (!fromBackend.has('SIEVE')) return;
    this.known = new Map(FROM_BACKEND.filter((k) => fromBackend.has(k)).map((k) => [k, fromBackend.get(k)!]));
  }
}

export interface CapabilityState {
  readonly secure: boolean;
  readonly canStartTls: boolean;
  readonly allowPlaintextAuth: boolean;
}

/** The capability lines (greeting, CAPABILITY, after STARTTLS), without the closing OK. */
export function capabilityLines(s: CapabilityState, backend: BackendSieveCapabilities): string {
  const lines = [`"IMPLEMENTATION" ${quote('oauth2-mail-proxy')}`];
  // Before TLS with plaintext auth refused: an empty list (no mechanism is usable yet).
  lines.push(`"SASL" ${quote(s.secure || s.allowPlaintextAuth ? SASL_MECHANISMS.join(' ') : '')}`);
  for (const name of FROM_BACKEND) {
    const value = backend.get(name);
    if (value !== undefined) lines.push(`${quote(name)} ${quote(value)}`);
  }
  if (s.canStartTls && !s.secure) lines.push('"STARTTLS"');
  lines.push('"VERSION" "1.0"');
  return lines.map((l) => `${l}\r\n`).join('');
}
