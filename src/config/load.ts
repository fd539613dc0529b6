// Loads the configuration once at start-up: defaults < YAML file < environment. Every
// problem is collected and reported together, so an operator fixes them in one go.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { BlockList } from 'node:net';
import { parseNetworks } from '../net/trusted-networks.js';
import { parse as parseYaml } from 'yaml';
import { KEYS, type KeySpec } from './keys.js';
import { CERTIFICATES_KEY, parseSniCertificates } from './certificates.js';
import type { Config, ListenAddress, BackendTlsMode } from './types.js';
import { ISSUERS_KEY, loadIssuers, readIssuerItems, type RawIssuer } from './issuers.js';
import { loadScim } from './scim.js';
import { parseBool, parseEnum, parseFile, parseInt10, parseListen, parseUrl, type Parsed } from './values.js';

export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

export type RawConfig = Record<string, string>;

/** Reads a flat YAML mapping of the same KEY: value pairs the environment uses. */
export function readConfigFile(path: string): RawConfig {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError([`--config ${path}: ${(err as Error).message.split('\n')[0]}`]);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError([`--config ${path}: expected a mapping of KEY: value`]);
  const out: RawConfig = {};
  const known = new Set(KEYS.map((s) => s.name));
  const problems: string[] = [];
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (key === CERTIFICATES_KEY) out[key] = JSON.stringify(value); // validated by loadConfig
    else if (key === ISSUERS_KEY) out[key] = JSON.stringify(readIssuerItems(`--config ${path}`, value, problems));
    else if (!known.has(key)) problems.push(`--config ${path}: unknown key ${key}`);
    else if (value === null) out[key] = '';
    else if (['string', 'number', 'boolean'].includes(typeof value)) out[key] = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
    else problems.push(`--config ${path}: ${key} must be a scalar`);
  }
  if (problems.length) throw new ConfigError(problems);
  return out;
}

export function loadConfig(env: NodeJS.ProcessEnv, file: RawConfig = {}): Config {
  const problems: string[] = [];
  const raw = (spec: KeySpec): string => env[spec.name] ?? file[spec.name] ?? spec.default;
  const get = <T>(name: string): T => {
    const spec = KEYS.find((s) => s.name === name);
    if (!spec) throw new Error(`unknown config key ${name}`);
    const r = parseValue(spec, raw(spec));
    if (!r.ok) {
      problems.push(`${name}: ${r.error}`);
      return undefined as T;
    }
    return r.value as T;
  };

  const listen = {
    imap: get<ListenAddress | null>('LISTEN_IMAP'),
    imaps: get<ListenAddress | null>('LISTEN_IMAPS'),
    submission: get<ListenAddress | null>('LISTEN_SUBMISSION'),
    submissions: get<ListenAddress | null>('LISTEN_SUBMISSIONS'),
  };
  const certPath = get<string>('SSL_CERT_PATH');
  const keyPath = get<string>('SSL_KEY_PATH');
  const allowPlaintextAuth = get<boolean>('ALLOW_PLAINTEXT_AUTH');
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

  const issuerItems = file[ISSUERS_KEY] === undefined ? undefined : (JSON.parse(file[ISSUERS_KEY]) as RawIssuer[]);
  const issuers = loadIssuers(raw, issuerItems, parseValue, problems);
  const firstIssuer = issuers[0]!;

  let masterPassword = get<string>('DMS_MASTER_PASSWORD');
  const masterPasswordFile = get<string>('DMS_MASTER_PASSWORD_FILE');
  if (!masterPassword && masterPasswordFile) {
    try {
      masterPassword = readFileSync(masterPasswordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(`DMS_MASTER_PASSWORD_FILE: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  }
  const masterUser = get<string>('DMS_MASTER_USER').trim();
  if (!masterUser) problems.push('DMS_MASTER_USER: required (a Dovecot master account: setup dovecot-master add NAME PASSWORD)');
  if (!masterPassword) problems.push('DMS_MASTER_PASSWORD or DMS_MASTER_PASSWORD_FILE: required');
  if (/[\s*"\\]/.test(masterUser)) problems.push('DMS_MASTER_USER: must not contain spaces, quotes, backslashes or *');

  const host = get<string>('DMS_HOST').trim();
  if (!host) problems.push('DMS_HOST: must not be empty');
  const caFile = get<string>('DMS_TLS_CA_FILE');
  const servername = get<string>('DMS_TLS_SERVERNAME').trim();

  const config: Config = {
    listen,
    tls,
    allowPlaintextAuth,
    allowClientMasterLogin: get<boolean>('ALLOW_CLIENT_MASTER_LOGIN'),
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
    logLevel: get<string>('LOG_LEVEL'),
    proxyProtocol: {
      trusted: trustedNetworks(get<string>('PROXY_PROTOCOL_TRUSTED_NETWORKS'), problems),
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
      maxPreauthSessions: get<number>('MAX_PREAUTH_SESSIONS'),
    },
    sniCertificates: parseSniCertificates(file[CERTIFICATES_KEY] === undefined ? undefined : JSON.parse(file[CERTIFICATES_KEY]), problems),
    ops: {
      listenHttp: get<ListenAddress | null>('LISTEN_HTTP'),
      shutdownGraceMs: get<number>('SHUTDOWN_GRACE_SECONDS') * 1000,
      tlsReloadIntervalMs: get<number>('TLS_RELOAD_INTERVAL_SECONDS') * 1000,
    },
    scim: loadScim(get, problems),
  };
  if (problems.length) throw new ConfigError([...new Set(problems)]);
  return config;
}

function parseValue(spec: KeySpec, raw: string): Parsed<unknown> {
  switch (spec.kind) {
    case 'bool': return parseBool(raw);
    case 'int': return parseInt10(raw, spec);
    case 'listen': return parseListen(raw);
    case 'url': return raw.trim() === '' ? { ok: true, value: '' } : parseUrl(raw);
    case 'file': return parseFile(raw);
    case 'enum': return parseEnum(raw, spec.values ?? []);
    case 'string':
    case 'secret': return { ok: true, value: raw };
  }
}

function trustedNetworks(raw: string, problems: string[]): BlockList | null {
  if (!raw.trim()) return null;
  const r = parseNetworks(raw);
  if (!r.ok) {
    problems.push(...r.errors.map((e) => `PROXY_PROTOCOL_TRUSTED_NETWORKS: ${e}`));
    return null;
  }
  return r.list;
}
