// The configuration in sections, each read and validated on its own with its own problem
// list. `run` loads every section and reports every problem at once; a command that needs
// less loads less: `check-token` only the token settings, so a machine without listener
// certificates can still check a token, and `doctor` runs each check whose sections load.
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { KEYS, type KeySpec, type KeyValues } from './keys.js';
import { CERTIFICATES_KEY, parseSniCertificates, pemPairProblems, caFileProblem } from './certificates.js';
import type { Config } from './types.js';
import { ISSUERS_KEY, loadIssuers, type RawIssuer } from './issuers.js';
import { parseCidrs, type Cidr } from './networks.js';
import { loadScim } from './scim.js';
import { loadProvision } from './provision.js';
import { loadSharedState } from './shared-state.js';
import { loadPortal } from './portal.js';
import { HOST_NAME, parseValue, secretOrFile, stateFileProblem, typedValues } from './values.js';
import { listenClashes } from './listen-clash.js';

/** KEY -> value text from the YAML file; `issuers` and `certificates` hold JSON. */
export type RawConfig = Record<string, string>;

/** What a section loader reads with; problems land in the section's own list. */
export interface SectionInput {
  readonly raw: (spec: KeySpec) => string;
  /** Every key as a typed field, parsed when read; a bad value lands in `problems`. */
  readonly v: KeyValues;
  readonly file: RawConfig;
  readonly problems: string[];
}

/** Client-facing listeners and their certificates. */
function listeners(c: SectionInput): Pick<Config, 'listen' | 'tls' | 'allowPlaintextAuth' | 'allowClientMasterLogin' | 'appPasswordsFile' | 'sniCertificates'> {
  const { v, problems, file } = c;
  const listen = {
    imap: v.LISTEN_IMAP,
    imaps: v.LISTEN_IMAPS,
    submission: v.LISTEN_SUBMISSION,
    submissions: v.LISTEN_SUBMISSIONS,
    managesieve: v.LISTEN_MANAGESIEVE,
    pop3: v.LISTEN_POP3,
    pop3s: v.LISTEN_POP3S,
  };
  const certPath = v.SSL_CERT_PATH;
  const keyPath = v.SSL_KEY_PATH;
  const allowPlaintextAuth = v.ALLOW_PLAINTEXT_AUTH;
  const allowClientMasterLogin = v.ALLOW_CLIENT_MASTER_LOGIN;
  const appPasswordsFile = v.APP_PASSWORDS_FILE;
  // The proxy rewrites the file unless the app passwords live in the shared store: it is then only read, imported once.
  const stateProblem = appPasswordsFile ? stateFileProblem(appPasswordsFile, !v.SHARED_STATE_URL.trim()) : null;
  if (stateProblem) problems.push(`APP_PASSWORDS_FILE: ${stateProblem}`);
  if (Boolean(certPath) !== Boolean(keyPath)) problems.push('SSL_CERT_PATH and SSL_KEY_PATH must be set together');
  const tls = certPath && keyPath ? { certPath, keyPath } : null;
  if (tls) for (const p of pemPairProblems(tls.certPath, tls.keyPath)) problems.push(`SSL_CERT_PATH/SSL_KEY_PATH: ${p}`);
  for (const name of ['imaps', 'submissions', 'pop3s'] as const) {
    const key = `LISTEN_${name.toUpperCase()}`;
    if (!tls && listen[name]) problems.push(`${key} needs SSL_CERT_PATH and SSL_KEY_PATH (or set ${key}= to disable it)`);
  }
  for (const name of ['imap', 'submission', 'pop3', 'managesieve'] as const) {
    const key = `LISTEN_${name.toUpperCase()}`;
    if (!tls && listen[name] && !allowPlaintextAuth) {
      problems.push(`${key} without SSL_CERT_PATH/SSL_KEY_PATH offers no STARTTLS: set the certificate, or ALLOW_PLAINTEXT_AUTH=1 for a trusted network`);
    }
  }
  problems.push(...listenClashes(c.raw));
  if (!Object.values(listen).some(Boolean)) {
    // Named from `listen` itself, so a new protocol's listener is never left out of the hint.
    problems.push(`no listener: set at least one of ${Object.keys(listen).map((name) => `LISTEN_${name.toUpperCase()}`).join(', ')}`);
  }
  const sniCertificates = parseSniCertificates(file[CERTIFICATES_KEY] === undefined ? undefined : JSON.parse(file[CERTIFICATES_KEY]), problems);
  return { listen, tls, allowPlaintextAuth, allowClientMasterLogin, appPasswordsFile, sniCertificates };
}

/** Token validation: the issuers, IdP requests and the decision cache. */
function tokens(c: SectionInput): Pick<Config, 'oauth2'> {
  const { v, file } = c;
  const issuerItems = file[ISSUERS_KEY] === undefined ? undefined : (JSON.parse(file[ISSUERS_KEY]) as RawIssuer[]);
  const issuers = loadIssuers(c.raw, issuerItems, parseValue, c.problems);
  return {
    oauth2: {
      timeoutMs: v.OAUTH2_TIMEOUT_MS,
      maxResponseBytes: v.OAUTH2_MAX_RESPONSE_BYTES,
      issuers,
      cache: {
        ttlSeconds: v.OAUTH2_CACHE_TTL_SECONDS,
        negativeSeconds: v.OAUTH2_NEGATIVE_CACHE_SECONDS,
        maxEntries: v.OAUTH2_CACHE_MAX_ENTRIES,
      },
      jwksCooldownSeconds: v.OAUTH2_JWKS_COOLDOWN_SECONDS,
    },
  };
}

/** DMS: where it is, how to reach it, and the master account the proxy logs in with. */
function backend(c: SectionInput): Pick<Config, 'backend'> {
  const { v, problems } = c;
  const masterPassword = secretOrFile(v.DMS_MASTER_PASSWORD, v.DMS_MASTER_PASSWORD_FILE, (e) => problems.push(`DMS_MASTER_PASSWORD_FILE: ${e}`));
  const masterUser = v.DMS_MASTER_USER.trim();
  if (!masterUser) problems.push('DMS_MASTER_USER: required (a Dovecot master account: setup dovecot-master add NAME PASSWORD)');
  if (!masterPassword) problems.push('DMS_MASTER_PASSWORD or DMS_MASTER_PASSWORD_FILE: required');
  if (/[\s*"\\]/.test(masterUser)) problems.push('DMS_MASTER_USER: must not contain spaces, quotes, backslashes or *');

  const host = v.DMS_HOST.trim();
  if (!host) problems.push('DMS_HOST: must not be empty');
  // A port or a scheme (mailserver:143, imap://mailserver) can never resolve: every login
  // would fail as backend unavailable. The ports are DMS_*_PORT; an IPv6 address goes bare.
  else if (!isIP(host) && !HOST_NAME.test(host)) problems.push(`DMS_HOST: ${JSON.stringify(host)} is no host name or IP address (no port, scheme or brackets: the ports are DMS_IMAP_PORT, DMS_SUBMISSION_PORT, ...)`);
  const caFile = v.DMS_TLS_CA_FILE;
  const caProblem = caFile ? caFileProblem(caFile) : null;
  if (caProblem) problems.push(`DMS_TLS_CA_FILE: ${caProblem}`);
  const servername = v.DMS_TLS_SERVERNAME.trim();
  return {
    backend: {
      host,
      imapPort: v.DMS_IMAP_PORT,
      tls: v.DMS_TLS,
      tlsVerify: v.DMS_TLS_VERIFY,
      caFile: caFile || null,
      servername: servername || host,
      masterUser,
      masterPassword,
      timeoutMs: v.DMS_TIMEOUT_MS,
      submissionPort: v.DMS_SUBMISSION_PORT,
      submissionTls: v.DMS_SUBMISSION_TLS,
      submissionLogin: v.DMS_SUBMISSION_LOGIN,
      managesievePort: v.DMS_MANAGESIEVE_PORT,
      managesieveTls: v.DMS_MANAGESIEVE_TLS,
      pop3Port: v.DMS_POP3_PORT,
      pop3Tls: v.DMS_POP3_TLS,
    },
  };
}

/** Client sessions: their timers, protocol limits, client addresses (PROXY protocol both ways), abuse limits. */
function sessions(c: SectionInput): Pick<Config, 'smtp' | 'imap' | 'sessions' | 'proxyProtocol' | 'limits'> {
  const { v } = c;
  return {
    smtp: {
      hostname: v.SMTP_HOSTNAME.trim() || hostname(),
      maxLineBytes: v.SMTP_MAX_LINE_BYTES,
    },
    imap: {
      maxLineBytes: v.IMAP_MAX_LINE_BYTES,
      maxLiteralBytes: v.IMAP_MAX_LITERAL_BYTES,
      maxBadCommands: v.IMAP_MAX_BAD_COMMANDS,
    },
    sessions: {
      preauthTimeoutMs: v.PREAUTH_TIMEOUT_SECONDS * 1000,
      idleTimeoutMs: v.IDLE_TIMEOUT_SECONDS * 1000,
    },
    proxyProtocol: {
      trustedNetworks: trustedNetworks(v.PROXY_PROTOCOL_TRUSTED_NETWORKS, c.problems),
      timeoutMs: v.PROXY_PROTOCOL_TIMEOUT_SECONDS * 1000,
      toImap: v.DMS_IMAP_PROXY_PROTOCOL,
      toSubmission: v.DMS_SUBMISSION_PROXY_PROTOCOL,
      toManagesieve: v.DMS_MANAGESIEVE_PROXY_PROTOCOL,
      toPop3: v.DMS_POP3_PROXY_PROTOCOL,
    },
    limits: {
      authFailWindowMs: v.AUTH_FAIL_WINDOW_SECONDS * 1000,
      authFailMaxPerIp: v.AUTH_FAIL_MAX_PER_IP,
      authFailMaxPerUser: v.AUTH_FAIL_MAX_PER_USER,
      authFailBlockMs: v.AUTH_FAIL_BLOCK_SECONDS * 1000,
      authFailDelayMs: v.AUTH_FAIL_DELAY_MS,
      authFailDelayMaxMs: v.AUTH_FAIL_DELAY_MAX_MS,
      maxConnections: v.MAX_CONNECTIONS,
      maxConnectionsPerIp: v.MAX_CONNECTIONS_PER_IP,
      ipv6ClientPrefix: v.IPV6_CLIENT_PREFIX,
      maxPreauthSessions: v.MAX_PREAUTH_SESSIONS,
    },
  };
}

/** Logging, the metrics/health listener, shutdown and certificate reloading. */
function ops(c: SectionInput): Pick<Config, 'logLevel' | 'ops'> {
  const { v } = c;
  return {
    logLevel: v.LOG_LEVEL,
    ops: {
      listenHttp: v.LISTEN_HTTP,
      shutdownGraceMs: v.SHUTDOWN_GRACE_SECONDS * 1000,
      tlsReloadIntervalMs: v.TLS_RELOAD_INTERVAL_SECONDS * 1000,
    },
  };
}

/** What writes accounts into DMS_CONFIG_DIR: SCIM, and accounts created on first login. */
function scim(c: SectionInput): Pick<Config, 'scim' | 'provision'> {
  return { scim: loadScim(c.v, c.problems), provision: loadProvision(c.v, c.problems) };
}

/** The store replicas share (issue 20). */
function sharedState(c: SectionInput): Pick<Config, 'sharedState'> {
  return { sharedState: loadSharedState(c.v, c.problems) };
}

/** The self-service app-password page (issue 19). */
function portal(c: SectionInput): Pick<Config, 'portal'> {
  return { portal: loadPortal(c.v, c.file, c.problems) };
}

/** In the order `run` reports their problems. Together they make up Config (see loadConfig). */
export const SECTIONS = { listeners, tokens, backend, sessions, ops, scim, sharedState, portal } as const;

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
    const v = typedValues(KEYS, (spec) => {
      const r = parseValue(spec, raw(spec));
      if (r.ok) return r.value;
      problems.push(`${spec.name}: ${r.error}`);
      return undefined;
    });
    let value: SectionValue<typeof name> | undefined;
    try {
      value = SECTIONS[name]({ raw, v, file, problems }) as SectionValue<typeof name>;
    } catch (err) {
      // A loader that trips over a value its parser refused (read as undefined) must not end
      // start-up or doctor in a TypeError that hides the list: the refusal is the problem.
      if (!problems.length) throw err;
    }
    out[name] = (problems.length ? { ok: false, problems: [...new Set(problems)] } : { ok: true, value }) as SectionResult<typeof name>;
  }
  return out;
}

function trustedNetworks(raw: string, problems: string[]): Cidr[] {
  const r = parseCidrs(raw);
  if (r.ok) return r.cidrs;
  problems.push(...r.errors.map((e) => `PROXY_PROTOCOL_TRUSTED_NETWORKS: ${e}`));
  return [];
}
