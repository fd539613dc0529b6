// Which Dovecot DMS runs, as far as IMAP reveals it, and the setting that bites the proxy on
// it. Dovecot sends no version by default (ID answers only "name" "Dovecot"), so this reads
// capabilities: 2.4 added INPROGRESS (RFC 9585) and REPLACE (RFC 8508) after login, and
// lists SASL-IR after IDLE before login where 2.3 lists it second. Pure: text in, a guess out.

/** A checks.ts CheckLine (structurally: checks.ts imports this file, not the other way round). */
export interface VersionLine { readonly status: 'ok' | 'warn' | 'fail'; readonly title: string; readonly detail: string; readonly fix?: string }

import { STARTTLS_AFTER_PROXY_SSL } from '../backend/imap-login.js';
import { isCleartextRefusal } from '../backend/cleartext-refusal.js';

export type DovecotGeneration = '2.3' | '2.4';

/** From post-login capabilities (reliable), else pre-login ones (the order heuristic), else undefined. */
export function dovecotGeneration(postLogin?: string, preLogin?: string): DovecotGeneration | undefined {
  const words = (s: string) => s.toUpperCase().split(/\s+/).filter(Boolean);
  if (postLogin) {
    const caps = words(postLogin);
    if (caps.includes('INPROGRESS') || caps.includes('REPLACE')) return '2.4';
    if (caps.includes('IMAP4REV1')) return '2.3';
  }
  if (preLogin) {
    const caps = words(preLogin);
    const sasl = caps.indexOf('SASL-IR');
    const idle = caps.indexOf('IDLE');
    if (sasl > 0 && idle > 0) return sasl < idle ? '2.3' : '2.4';
  }
  return undefined;
}

/** Dovecot's refusal of authentication on a connection it does not count as secured. */
export { isCleartextRefusal };

export interface DovecotFacts {
  readonly generation: DovecotGeneration | undefined;
  /** DMS_TLS: how the proxy reaches Dovecot's IMAP. */
  readonly tls: 'starttls' | 'implicit' | 'none';
  /** DMS_IMAP_PROXY_PROTOCOL: a PROXY v2 header whose SSL TLV tells Dovecot the client used TLS. */
  readonly proxyProtocol: boolean;
  /** The master login's refusal, when it was refused. */
  readonly loginRefusal?: string;
}

const SECURED_24 = 'Dovecot 2.4 (DMS on Debian 13) no longer counts login_trusted_networks as secured, and DMS sets ssl = required';
const TLS_FIX = 'set DMS_TLS=starttls (or DMS_TLS=implicit with DMS_IMAP_PORT=993), or DMS_IMAP_PROXY_PROTOCOL=1 towards a haproxy = yes listener (its PROXY v2 header carries the client\'s TLS)';

/** The checklist line: the version found and, where one applies, the setting that will bite. */
export function checkDovecotGeneration(f: DovecotFacts): VersionLine {
  const title = 'DMS Dovecot version';
  const found = f.generation === '2.4' ? 'Dovecot 2.4 (DMS on Debian 13)' : f.generation === '2.3' ? 'Dovecot 2.3 (DMS v15, Debian 12)' : 'not recognized';
  if (f.loginRefusal?.includes(STARTTLS_AFTER_PROXY_SSL)) {
    return { status: 'fail', title, detail: 'Dovecot 2.4 (DMS on Debian 13): with DMS_IMAP_PROXY_PROTOCOL=1 it takes the header\'s TLS flag as TLS already active and refuses STARTTLS', fix: 'set DMS_TLS=implicit with DMS_IMAP_PORT = DMS\'s haproxy + ssl listener (10993), or DMS_TLS=none with 10143' };
  }
  if (f.loginRefusal && isCleartextRefusal(f.loginRefusal)) {
    return { status: 'fail', title, detail: `${found}; it refuses authentication without TLS on the proxy's connection (${f.tls === 'none' ? 'DMS_TLS=none' : `DMS_TLS=${f.tls}`})${f.generation !== '2.3' ? `: ${SECURED_24}` : ''}`, fix: TLS_FIX };
  }
  if (f.generation === '2.4') {
    if (f.tls === 'none' && !f.proxyProtocol) {
      return { status: 'warn', title, detail: `${found} with DMS_TLS=none: it works only while Dovecot sees the proxy at its own address; ${SECURED_24}`, fix: TLS_FIX };
    }
    return { status: 'ok', title, detail: `${found}; in DMS's dovecot.cf use the 2.4 override (deploy/dms-config/dovecot-2.4.cf: auth_allow_cleartext, not disable_plaintext_auth)` };
  }
  if (f.generation === '2.3') return { status: 'ok', title, detail: `${found}; DMS's dovecot.cf override: deploy/dms-config/dovecot.cf` };
  return f.loginRefusal
    ? { status: 'warn', title, detail: `${found}: the master login failed, so no capabilities to read`, fix: 'fix the master login above, then run doctor again' }
    : { status: 'warn', title, detail: `${found} from the capabilities after login`, fix: 'check that DMS_HOST/DMS_IMAP_PORT reach DMS\'s Dovecot' };
}
