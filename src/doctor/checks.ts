// The individual doctor checks. Each returns one or more checklist lines: what was
// checked, what was found and, for a failure, how to fix it. None prints or throws.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/types.js';
import { loadCertificatePair, type CertificateFiles } from '../net/tls-reload.js';
import { connectTcp } from '../backend/dial.js';
import { backendTargets } from '../backend/targets.js';
import type { BackendTlsOptions } from '../backend/dial.js';
import { idpProbeUrl } from '../ops/health-checks.js';
import { checkDovecotGeneration, dovecotGeneration } from './dovecot-version.js';
import { meetsNodeEngine, PACKAGE_NAME, type PackageInfo } from '../package-info.js';
import { DOCTOR_CONNECT_MAX_MS, DOCTOR_HTTP_TIMEOUT_MS, DOCTOR_QUIT_CLOSE_MS } from '../limits.js';

/** skip: not run, because a setting it needs is invalid (reported as a configuration failure). */
export type Status = 'ok' | 'warn' | 'fail' | 'skip';
export interface CheckLine { readonly status: Status; readonly title: string; readonly detail: string; readonly fix?: string }

const DAY_MS = 86_400_000;
export const EXPIRY_WARN_DAYS = 14;

export function checkVersion(info: PackageInfo | null, nodeVersion = process.version): CheckLine {
  const title = 'version';
  if (!info) return { status: 'warn', title, detail: `${PACKAGE_NAME} unknown (its package.json was not found), Node ${nodeVersion}`, fix: 'run the proxy from its package (dist/src/cli.js next to package.json)' };
  const detail = `${PACKAGE_NAME} ${info.version}, Node ${nodeVersion}`;
  if (!meetsNodeEngine(nodeVersion, info.nodeEngine)) return { status: 'fail', title, detail: `${detail}, but the package needs Node ${info.nodeEngine}`, fix: `install Node ${info.nodeEngine} (or use the container image)` };
  return { status: 'ok', title, detail };
}

export function checkCertificates(config: Pick<Config, 'tls' | 'sniCertificates'>, now = Date.now()): CheckLine[] {
  if (!config.tls) return [{ status: 'warn', title: 'TLS certificate', detail: 'none configured (no STARTTLS, no implicit TLS)', fix: 'set SSL_CERT_PATH and SSL_KEY_PATH (DMS\'s certificate files)' }];
  const pairs: Array<{ name: string; files: CertificateFiles; names: readonly string[] }> = [
    { name: 'default', files: config.tls, names: [] },
    ...config.sniCertificates.map((c) => ({ name: c.names[0]!, files: c, names: c.names })),
  ];
  return pairs.map(({ name, files, names }): CheckLine => {
    const title = `TLS certificate (${name})`;
    try {
      const { notAfter, subject } = loadCertificatePair(files);
      const x509 = new X509Certificate(readFileSync(files.certPath));
      if (new Date(x509.validFrom).getTime() > now) return { status: 'fail', title, detail: `not valid before ${x509.validFrom}`, fix: 'check the clock, or the certificate files' };
      const days = Math.floor((notAfter.getTime() - now) / DAY_MS);
      if (days < 0) return { status: 'fail', title, detail: `expired on ${notAfter.toISOString()}`, fix: `renew it (certbot renew, or your ACME client); the proxy picks the new files up within TLS_RELOAD_INTERVAL_SECONDS` };
      const uncovered = names.filter((n) => !x509.checkHost(n.replace(/^\*\./, 'x.')));
      if (uncovered.length) return { status: 'warn', title, detail: `does not cover ${uncovered.join(', ')}`, fix: 'issue the certificate for every name listed in certificates[].names' };
      if (days < EXPIRY_WARN_DAYS) return { status: 'warn', title, detail: `expires in ${days} days (${notAfter.toISOString()})`, fix: 'renew it soon' };
      return { status: 'ok', title, detail: `${subject}, valid for ${days} more days` };
    } catch (err) {
      return { status: 'fail', title, detail: (err as Error).message, fix: 'point SSL_CERT_PATH/SSL_KEY_PATH (or certificates[]) at a PEM certificate chain and its private key' };
    }
  });
}

async function get(url: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(DOCTOR_HTTP_TIMEOUT_MS), headers: { accept: 'application/json' } });
  const text = await res.text();
  let json: unknown = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json };
}

export async function checkIdp(config: Pick<Config, 'oauth2'>): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const url = idpProbeUrl(config);
  if (!url) return [{ status: 'fail', title: 'IdP reachable', detail: 'no IdP URL configured', fix: 'set OAUTH2_INTROSPECTION_URL (the userinfo endpoint, as in DMS) or OAUTH2_ISSUER' }];
  try {
    const r = await get(url);
    lines.push(r.status < 500
      ? { status: 'ok', title: 'IdP reachable', detail: `${url} answered HTTP ${r.status}${r.status === 401 ? ' (as expected without a token)' : ''}` }
      : { status: 'fail', title: 'IdP reachable', detail: `${url} answered HTTP ${r.status}`, fix: 'the IdP has a server error: check its logs' });
  } catch (err) {
    lines.push({ status: 'fail', title: 'IdP reachable', detail: `${url}: ${describe(err)}`, fix: 'check the URL, DNS and that the proxy\'s network can reach the IdP (proxy environment, firewall)' });
    return lines;
  }
  // Discovery: the issuer's document if one is configured, else where the userinfo URL's
  // origin would publish it. Needed for modes local/auto; informative for auth.
  const issuer = config.oauth2.issuers.find((i) => i.issuer)?.issuer;
  const candidates = issuer ? [`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`] : discoveryCandidates(config.oauth2.issuers[0]?.introspectionUrl ?? '');
  for (const d of candidates) {
    try {
      const r = await get(d);
      const doc = r.json as { issuer?: string; userinfo_endpoint?: string; jwks_uri?: string } | null;
      if (r.status !== 200 || !doc?.issuer) continue;
      if (issuer && doc.issuer !== issuer) {
        lines.push({ status: 'fail', title: 'IdP discovery', detail: `${d} names issuer ${doc.issuer}, not ${issuer}`, fix: 'set OAUTH2_ISSUER exactly as the IdP spells it (trailing slash included)' });
      } else {
        lines.push({ status: 'ok', title: 'IdP discovery', detail: `issuer ${doc.issuer}${doc.jwks_uri ? ', JWKS published' : ''}` });
      }
      return lines;
    } catch { /* try the next */ }
  }
  lines.push(issuer
    ? { status: 'fail', title: 'IdP discovery', detail: `no discovery document at ${candidates[0]}`, fix: 'check OAUTH2_ISSUER (the iss of the tokens)' }
    : { status: 'warn', title: 'IdP discovery', detail: 'no discovery document found (not needed with OAUTH2_INTROSPECTION_MODE=auth)', fix: 'set OAUTH2_ISSUER to check it' });
  return lines;
}

function discoveryCandidates(url: string): string[] {
  if (!url) return [];
  const u = new URL(url);
  const parts = u.pathname.split('/').filter(Boolean);
  const out: string[] = [];
  for (let i = parts.length - 1; i >= 0; i--) out.push(`${u.origin}/${parts.slice(0, i).map((p) => `${p}/`).join('')}.well-known/openid-configuration`);
  return [...new Set(out)].slice(0, 4);
}

/** Whether submission is proxied; unknown (listener settings invalid): assume the default, on. */
export function submissionOn(listen: Config['listen'] | undefined): boolean {
  return listen ? Boolean(listen.submission || listen.submissions) : true;
}

/** The fronts beyond IMAP whose DMS leg doctor checks: those the proxy serves (POP3 and ManageSieve are off by default). */
export interface Fronts { readonly submission: boolean; readonly pop3: boolean; readonly managesieve: boolean }

export function frontsOn(listen: Config['listen'] | undefined): Fronts {
  return { submission: submissionOn(listen), pop3: Boolean(listen?.pop3 || listen?.pop3s), managesieve: Boolean(listen?.managesieve) };
}

export async function checkBackendReachable(config: Pick<Config, 'backend'>, fronts: Fronts): Promise<CheckLine[]> {
  const b = config.backend;
  // The ports /readyz probes (ops/health-checks.ts): doctor must not pass where readiness fails.
  const ports: Array<[string, number]> = [
    ['IMAP', b.imapPort],
    ...(fronts.submission ? [['submission', b.submissionPort] as [string, number]] : []),
    ...(fronts.pop3 ? [['POP3', b.pop3Port] as [string, number]] : []),
    ...(fronts.managesieve ? [['ManageSieve', b.managesievePort] as [string, number]] : []),
  ];
  return Promise.all(ports.map(async ([what, port]): Promise<CheckLine> => {
    const title = `DMS ${what} reachable`;
    try {
      (await connectTcp(b.host, port, Math.min(b.timeoutMs, DOCTOR_CONNECT_MAX_MS))).destroy();
      return { status: 'ok', title, detail: `${b.host}:${port}` };
    } catch (err) {
      return { status: 'fail', title, detail: (err as Error).message, fix: `check DMS_HOST and the port; is the proxy on the DMS container's network, and DMS running?` };
    }
  }));
}

const DOCTOR_CLIENT = { address: '127.0.0.1', port: 0, localAddress: '127.0.0.1', localPort: 0, tls: true } as const;

export async function checkMasterLogins(
  config: Pick<Config, 'backend' | 'smtp' | 'proxyProtocol'>, fronts: Fronts, user: string, backendTls: BackendTlsOptions,
): Promise<CheckLine[]> {
  const b = config.backend;
  // The same targets the proxy logs in with: what doctor checks is what sessions will do.
  const targets = backendTargets(config, backendTls);
  const lines: CheckLine[] = [];
  const r = await targets.imap({ kind: 'vouched', user }, DOCTOR_CLIENT);
  const masterFix = `check DMS_MASTER_USER/DMS_MASTER_PASSWORD against DMS (setup dovecot-master add ${b.masterUser || 'NAME'} PASSWORD), and that ${user} is a DMS account (setup email list)`;
  if (r.ok) {
    r.socket.end('Z LOGOUT\r\n');
    setTimeout(() => r.socket.destroy(), DOCTOR_QUIT_CLOSE_MS).unref();
    lines.push({ status: 'ok', title: `IMAP master login as ${user}`, detail: `Dovecot accepted ${b.masterUser} for ${user} (${Math.round(r.loginMs)} ms)` });
  } else {
    lines.push({ status: 'fail', title: `IMAP master login as ${user}`, detail: r.reason, fix: r.kind === 'rejected' ? masterFix : 'DMS did not answer the login: check DMS_TLS, DMS_TLS_CA_FILE/DMS_TLS_SERVERNAME (certificate) and reachability' });
  }
  lines.push(checkDovecotGeneration({
    generation: r.ok ? dovecotGeneration(r.capabilities) : undefined, tls: b.tls, proxyProtocol: config.proxyProtocol.toImap, ...(r.ok ? {} : { loginRefusal: r.reason }),
  }));
  // POP3 and ManageSieve: their own port, TLS mode and PROXY setting, so their own login (Dovecot
  // 2.4 refuses a cleartext leg, or STARTTLS after a PROXY header, on one front and not another).
  const dovecotFronts = [
    ...(fronts.pop3 ? [{ name: 'POP3', trust: '[XCLIENT] in its greeting', quit: 'QUIT\r\n', keys: 'DMS_POP3_PORT, DMS_POP3_TLS and DMS_POP3_PROXY_PROTOCOL (DMS: ENABLE_POP3=1)', login: async () => {
      const r = await targets.pop3({ kind: 'vouched', user }, DOCTOR_CLIENT);
      return r.ok ? { ...r, passed: r.addressPassed } : r;
    } }] : []),
    ...(fronts.managesieve ? [{ name: 'ManageSieve', trust: 'XCLIENT in its capabilities', quit: 'LOGOUT\r\n', keys: 'DMS_MANAGESIEVE_PORT, DMS_MANAGESIEVE_TLS and DMS_MANAGESIEVE_PROXY_PROTOCOL (DMS: ENABLE_MANAGESIEVE=1)', login: async () => {
      const r = await targets.managesieve({ kind: 'vouched', user }, DOCTOR_CLIENT);
      return r.ok ? { ...r, passed: config.proxyProtocol.toManagesieve || r.capabilities.has('XCLIENT') } : r;
    } }] : []),
  ];
  for (const f of dovecotFronts) {
    const title = `${f.name} master login as ${user}`;
    const p = await f.login();
    if (p.ok) {
      p.socket.on('error', () => undefined);
      p.socket.end(f.quit);
      setTimeout(() => p.socket.destroy(), DOCTOR_QUIT_CLOSE_MS).unref();
      const accepted = `Dovecot accepted ${b.masterUser} for ${user} (${Math.round(p.loginMs)} ms)`;
      // Dovecot says whether it takes the client's address from us before any login: without
      // that, its sessions, auth penalty and Fail2Ban see the proxy, and a few failures ban everyone.
      if (p.passed) lines.push({ status: 'ok', title, detail: accepted });
      else lines.push({ status: 'fail', title, detail: `${accepted}, but Dovecot does not trust the proxy's address (no ${f.trust}), so it ignores the client's address: login_trusted_networks does not name the proxy`, fix: 'add the proxy\'s address to login_trusted_networks in DMS\'s dovecot.cf (deploy/dms-config/dovecot.cf; DMS on Dovecot 2.4: dovecot-2.4.cf), or send a PROXY header (DMS_POP3_PROXY_PROTOCOL / DMS_MANAGESIEVE_PROXY_PROTOCOL=1)' });
    } else {
      lines.push({ status: 'fail', title, detail: p.reason, fix: p.kind === 'rejected' ? masterFix : `DMS did not answer the login: check ${f.keys}, and the DMS certificate` });
    }
  }
  if (!fronts.submission) return lines;
  const s = await targets.submissionDirect({ kind: 'vouched', user }, DOCTOR_CLIENT);
  const title = `submission ${b.submissionLogin} login as ${user}`;
  if (s.ok) {
    s.socket.end('QUIT\r\n');
    setTimeout(() => s.socket.destroy(), DOCTOR_QUIT_CLOSE_MS).unref();
    lines.push({ status: 'ok', title, detail: `Postfix accepted the login (${Math.round(s.loginMs)} ms)` });
  } else {
    const fix = b.submissionLogin === 'xclient'
      ? 'add the proxy\'s address to smtpd_authorized_xclient_hosts for submission in DMS\'s postfix-master.cf'
      : s.kind === 'rejected' ? `${masterFix}; Postfix must use Dovecot SASL (no ENABLE_SASLAUTHD=1)` : 'check DMS_SUBMISSION_PORT/DMS_SUBMISSION_TLS and the DMS certificate';
    lines.push({ status: 'fail', title, detail: s.reason, fix });
  }
  return lines;
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no answer within ${DOCTOR_HTTP_TIMEOUT_MS} ms`;
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? 'failed';
}
