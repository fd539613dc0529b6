// The configuration in sections, each read and validated on its own with its own problem
// list. `run` loads every section and reports every problem at once; a command that needs
// less loads less: `check-token` only the token settings, so a machine without listener
// certificates can still check a token, and `doctor` runs each check whose sections load.
import { hostname } from 'node:os';
import { BlockList } from 'node:net';
import { KEYS, type KeySpec } from './keys.js';
import { CERTIFICATES_KEY, parseSniCertificates } from './certificates.js';
import type { Config, ListenAddress, BackendTlsMode } from './types.js';
import { ISSUERS_KEY, loadIssuers, type RawIssuer } from './issuers.js';
import { parseCidrs } from './networks.js';
import { loadScim } from './scim.js';
import { parseValue, secretOrFile } from './values.js';

/** KEY -> value text from the YAML file; `issuers` and `certificates` hold JSON. */
export type RawConfig = Record<string, string>;

/** What a section loader reads with; problems land in the section's own list. */
export interface SectionInput {
  readonly raw: (spec: KeySpec) => string;
  readonly get: <T>(name: string) => T;
  readonly file: RawConfig;
  readonly problems: string[];
}

/** Client-facing listeners and their certificates. */
function listeners(c: SectionInput): Pick<Config, 'listen' | 'tls' | 'allowPlaintextAuth' | 'allowClientMasterLogin' | 'sniCertificates'> {
  const { get, problems, file } = c;
  const listen = {
    imap: get<ListenAddress | null>('LISTEN_IMAP'),
    imaps: get<ListenAddress | null>('LISTEN_IMAPS'),
    submission: get<ListenAddress | null>('LISTEN_SUBMISSION'),
    submissions: get<ListenAddress | null>('LISTEN_SUBMISSIONS'),
  };
  const certPath = get<string>('SSL_CERT_PATH');
  const keyPath = get<string>('SSL_KEY_PATH');
  const allowPlaintextAuth = get<boolean>('ALLOW_PLAINTEXT_AUTH');
  const allowClientMasterLogin = get<boolean>('ALLOW_CLIENT_MASTER_LOGIN');
  if (Boolean(certPath) !== Boolean(keyPath)) problems.push('SSL_CERT_PATH and SSL_KEY_PATH must be set together');
  const tls = certPath && keyPath ? { certPath, keyPath } : null;
  for (const name of ['imaps', 'submissions'] as const) {
    const key = `LISTEN_${name.toUpperCase()}`;
    if (!tls && listen[name]) problems.push(`${key} needs SSL_CERT_PATH and SSL_KEY_PATH (or set ${key}= to disable it)`);
  }
  for (const name of ['imap', 'submission'] as const) {
    const key = `LISTEN_${name.toUpperCase()}`;
    if (!tls && listen[name] && !allowPlaintextAuth) {
      problems.push(`${key} without SSL_CERT_PATH/SSL_KEY_PATH offers no STARTTLS: set the certificate, or ALLOW_PLAINTEXT_AUTH=1 for a trusted network`);
    }
  }
  if (!Object.values(listen).some(Boolean)) problems.push('no listener: set at least one of LISTEN_IMAP, LISTEN_IMAPS, LISTEN_SUBMISSION, LISTEN_SUBMISSIONS');
  const sniCertificates = parseSniCertificates(file[CERTIFICATES_KEY] === undefined ? undefined : JSON.parse(file[CERTIFICATES_KEY]), problems);
  return { listen, tls, allowPlaintextAuth, allowClientMasterLogin, sniCertificates };
}

/** Token validation: the issuers, IdP requests and the decision cache. */
function tokens(c: SectionInput): Pick<Config, 'oauth2'> {
  const { get, file } = c;
  const issuerItems = file[ISSUERS_KEY] === undefined ? undefined : (JSON.parse(file[ISSUERS_KEY]) as RawIssuer[]);
  const issuers = loadIssuers(c.raw, issuerItems, parseValue, c.problems);
  const firstIssuer = issuers[0]!;
  return {
    oauth2: {
      url: firstIssuer.introspectionUrl,
      mode: firstIssuer.mode,
      usernameAttribute: firstIssuer.usernameAttribute,
      timeoutMs: get<number>('OAUTH2_TIMEOUT_MS'),
      maxResponseBytes: get<number>('OAUTH2_MAX_RESPONSE_BYTES'),
      issuers,
      cache: {
        ttlSeconds: get<number>('OAUTH2_CACHE_TTL_SECONDS'),
        negativeSeconds: get<number>('OAUTH2_NEGATIVE_CACHE_SECONDS'),
        maxEntries: get<number>('OAUTH2_CACHE_MAX_ENTRIES'),
      },
      jwksCooldownSeconds: get<number>('OAUTH2_JWKS_COOLDOWN_SECONDS'),
    },
  };
}

/** DMS: where it is, how to reach it, and the master account the proxy logs in with. */
function backend(c: SectionInput): Pick<Config, 'backend'> {
  const { get, problems } = c;
  const masterPassword = secretOrFile(get<string>('DMS_MASTER_PASSWORD'), get<string>('DMS_MASTER_PASSWORD_FILE'), (e) => problems.push(`DMS_MASTER_PASSWORD_FILE: ${e}`));
  const masterUser = get<string>('DMS_MASTER_USER').trim();
  if (!masterUser) problems.push('DMS_MASTER_USER: required (a Dovecot master account: setup dovecot-master add NAME PASSWORD)');
  if (!masterPassword) problems.push('DMS_MASTER_PASSWORD or DMS_MASTER_PASSWORD_FILE: required');
  if (/[\s*"\\]/.test(masterUser)) problems.push('DMS_MASTER_USER: must not contain spaces, quotes, backslashes or *');

  const host = get<string>('DMS_HOST').trim();
  if (!host) problems.push('DMS_HOST: must not be empty');
  const caFile = get<string>('DMS_TLS_CA_FILE');
  const servername = get<string>('DMS_TLS_SERVERNAME').trim();
  return {
    backend: {
      host,
      imapPort: get<number>('DMS_IMAP_PORT'),
      tls: get<BackendTlsMode>('DMS_TLS'),
      tlsVerify: get<boolean>('DMS_TLS_VERIFY'),
      caFile: caFile || null,
      servername: servername || host,
      masterUser,
      masterPassword,
      timeoutMs: get<number>('DMS_TIMEOUT_MS'),
      submissionPort: get<number>('DMS_SUBMISSION_PORT'),
      submissionTls: get<BackendTlsMode>('DMS_SUBMISSION_TLS'),
      submissionLogin: get<'master' | 'xclient'>('DMS_SUBMISSION_LOGIN'),
    },
  };
}

/** Client sessions: protocol limits, client addresses (PROXY protocol both ways), abuse limits. */
function sessions(c: SectionInput): Pick<Config, 'smtp' | 'imap' | 'proxyProtocol' | 'limits'> {
  const { get } = c;
  return {
    smtp: {
      hostname: get<string>('SMTP_HOSTNAME').trim() || hostname(),
      maxLineBytes: get<number>('SMTP_MAX_LINE_BYTES'),
    },
    imap: {
      maxLineBytes: get<number>('IMAP_MAX_LINE_BYTES'),
      maxLiteralBytes: get<number>('IMAP_MAX_LITERAL_BYTES'),
      maxBadCommands: get<number>('IMAP_MAX_BAD_COMMANDS'),
      preauthTimeoutMs: get<number>('PREAUTH_TIMEOUT_SECONDS') * 1000,
      idleTimeoutMs: get<number>('IDLE_TIMEOUT_SECONDS') * 1000,
    },
    proxyProtocol: {
      trusted: trustedNetworks(get<string>('PROXY_PROTOCOL_TRUSTED_NETWORKS'), c.problems),
      timeoutMs: get<number>('PROXY_PROTOCOL_TIMEOUT_SECONDS') * 1000,
      toImap: get<boolean>('DMS_IMAP_PROXY_PROTOCOL'),
      toSubmission: get<boolean>('DMS_SUBMISSION_PROXY_PROTOCOL'),
    },
    limits: {
      authFailWindowMs: get<number>('AUTH_FAIL_WINDOW_SECONDS') * 1000,
      authFailMaxPerIp: get<number>('AUTH_FAIL_MAX_PER_IP'),
      authFailMaxPerUser: get<number>('AUTH_FAIL_MAX_PER_USER'),
      authFailBlockMs: get<number>('AUTH_FAIL_BLOCK_SECONDS') * 1000,
      authFailDelayMs: get<number>('AUTH_FAIL_DELAY_MS'),
      authFailDelayMaxMs: get<number>('AUTH_FAIL_DELAY_MAX_MS'),
      maxConnections: get<number>('MAX_CONNECTIONS'),
      maxConnectionsPerIp: get<number>('MAX_CONNECTIONS_PER_IP'),
      ipv6ClientPrefix: get<number>('IPV6_CLIENT_PREFIX'),
      maxPreauthSessions: get<number>('MAX_PREAUTH_SESSIONS'),
    },
  };
}

/** Logging, the metrics/health listener, shutdown and certificate reloading. */
function ops(c: SectionInput): Pick<Config, 'logLevel' | 'ops'> {
  const { get } = c;
  return {
    logLevel: get<string>('LOG_LEVEL'),
    ops: {
      listenHttp: get<ListenAddress | null>('LISTEN_HTTP'),
      shutdownGraceMs: get<number>('SHUTDOWN_GRACE_SECONDS') * 1000,
      tlsReloadIntervalMs: get<number>('TLS_RELOAD_INTERVAL_SECONDS') * 1000,
    },
  };
}

/** SCIM provisioning into DMS. */
function scim(c: SectionInput): Pick<Config, 'scim'> {
  return { scim: loadScim(c.get, c.problems) };
}

/** In the order `run` reports their problems. Together they make up Config (see loadConfig). */
export const SECTIONS = { listeners, tokens, backend, sessions, ops, scim } as const;

export type SectionName = keyof typeof SECTIONS;
export type SectionValue<K extends SectionName> = ReturnType<(typeof SECTIONS)[K]>;
export type SectionResult<K extends SectionName> =
  | { readonly ok: true; readonly value: SectionValue<K> }
  | { readonly ok: false; readonly problems: readonly string[] };

export const SECTION_NAMES = Object.keys(SECTIONS) as SectionName[];

/** Reads the named sections (defaults < file < environment); never throws for a bad value. */
export function readSections<K extends SectionName>(env: NodeJS.ProcessEnv, file: RawConfig, names: readonly K[]): { [P in K]: SectionResult<P> } {
  const raw = (spec: KeySpec): string => env[spec.name] ?? file[spec.name] ?? spec.default;
  const out = {} as { [P in K]: SectionResult<P> };
  for (const name of names) {
    const problems: string[] = [];
    const get = <T>(key: string): T => {
      const spec = KEYS.find((s) => s.name === key);
      if (!spec) throw new Error(`unknown config key ${key}`);
      const r = parseValue(spec, raw(spec));
      if (!r.ok) {
        problems.push(`${key}: ${r.error}`);
        return undefined as T;
      }
      return r.value as T;
    };
    const value = SECTIONS[name]({ raw, get, file, problems }) as SectionValue<typeof name>;
    out[name] = (problems.length ? { ok: false, problems: [...new Set(problems)] } : { ok: true, value }) as SectionResult<typeof name>;
  }
  return out;
}

function trustedNetworks(raw: string, problems: string[]): BlockList | null {
  if (!raw.trim()) return null;
  const r = parseCidrs(raw);
  if (!r.ok) {
    problems.push(...r.errors.map((e) => `PROXY_PROTOCOL_TRUSTED_NETWORKS: ${e}`));
    return null;
  }
  // Validated in config/ (which must not import net/); the matcher is still built here until
  // config holds only the CIDRs (branch config-limits builds it at start-up with blockListOf).
  const list = new BlockList();
  for (const c of r.cidrs) list.addSubnet(c.address, c.prefix, c.family);
  return list;
}
