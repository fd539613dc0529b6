// `oauth2-mail-proxy check-token TOKEN|-` validates one token with the live configuration and
// prints the decision: mode, issuer, mapped user, the claims that decided, the cache TTL.
// It never prints the token: every printed value that looks like a credential is redacted.
// Exit codes: 0 valid, 1 rejected, 2 unavailable, 64 usage, 78 configuration error.
import { ConfigError, loadSections, readConfigFile } from '../config/load.js';
import { createTokenValidation } from '../auth/factory.js';
import type { TokenCheck } from '../auth/token-check.js';
import { isB64Token } from '../auth/sasl/oauthbearer.js';

export const CHECK_TOKEN_USAGE = `usage: oauth2-mail-proxy check-token [--json] [--config FILE] [--] TOKEN|-

Validates TOKEN (or one read from stdin with -) exactly as a login would, with the same
configuration, and prints the decision. An opaque token may start with "-": put it after
--, or read it from stdin. Exit code 0 valid, 1 rejected, 2 unavailable, 78 configuration
error.`;

/** Options are short words; anything else starting with "-" may be a token, never echoed. */
const OPTION_LIKE = /^--?[a-z][a-z-]{0,20}(=.*)?$/i;

export interface CheckTokenIo {
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: () => Promise<string>;
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

export async function checkTokenCommand(argv: readonly string[], io: CheckTokenIo): Promise<number> {
  let json = false;
  let configPath: string | undefined;
  let tokenArg: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { // ends the options: exactly one token follows
      if (tokenArg !== undefined || argv.length !== i + 2) { io.err(`one token after --\n${CHECK_TOKEN_USAGE}\n`); return 64; }
      tokenArg = argv[i + 1];
      break;
    }
    if (a === '--json') json = true;
    else if (a === '--config' || a === '-c') configPath = argv[++i] ?? '';
    else if (a.startsWith('--config=')) configPath = a.slice('--config='.length);
    else if (a === '--help' || a === '-h') { io.out(`${CHECK_TOKEN_USAGE}\n`); return 0; }
    else if (tokenArg === undefined && (a === '-' || !a.startsWith('-'))) tokenArg = a;
    else {
      const what = !a.startsWith('-') ? '(a second token)' : OPTION_LIKE.test(a) ? a.split('=')[0] : '(starts with "-"; a token goes after --)';
      io.err(`unknown argument: ${what}\n${CHECK_TOKEN_USAGE}\n`);
      return 64;
    }
  }
  if (tokenArg === undefined) { io.err(`${CHECK_TOKEN_USAGE}\n`); return 64; }
  // Empty (an unset variable): not "no file", which would check with the environment alone.
  if (configPath !== undefined && !configPath.trim()) { io.err(`--config needs a file name\n${CHECK_TOKEN_USAGE}\n`); return 64; }
  let config;
  try {
    // Only the token settings: a token check needs no listener certificate or DMS account.
    ({ tokens: config } = loadSections(io.env, configPath ? readConfigFile(configPath) : {}, ['tokens']));
  } catch (err) {
    if (err instanceof ConfigError) { io.err(`oauth2-mail-proxy: ${err.message}\n`); return 78; }
    throw err;
  }
  // A bearer token is one line; "Bearer " is tolerated since people paste header values.
  const token = (tokenArg === '-' ? await io.stdin() : tokenArg).trim().replace(/^bearer\s+/i, '');
  if (!token) { io.err('check-token: empty token\n'); return 64; }
  if (!isB64Token(token)) {
    // A login refuses it before any IdP is asked (parseBearerAuth): so does the check, or a
    // folded paste would read as an IdP outage (the HTTP client refuses such a header).
    const report: Report = { decision: 'rejected', issuer: null, mode: null, reason: 'not a bearer token: a blank, line break or other character outside RFC 6750 b64token (a login refuses it without asking the IdP)', cacheTtlSeconds: 0 };
    io.out(json ? `${JSON.stringify(report, null, 2)}\n` : human(report));
    return 1;
  }
  const validation = createTokenValidation(config.oauth2, undefined);
  let d: TokenCheck;
  try {
    d = await validation.checker.check(token);
  } finally {
    await validation.close();
  }
  const report = toReport(d, token);
  io.out(json ? `${JSON.stringify(report, null, 2)}\n` : human(report));
  return d.status === 'valid' ? 0 : d.status === 'invalid' ? 1 : 2;
}

interface Report {
  decision: 'valid' | 'rejected' | 'unavailable';
  issuer: string | null;
  mode: string | null;
  user?: string;
  userClaim?: string;
  claims?: Record<string, unknown>;
  reason?: string;
  cacheTtlSeconds: number;
}

function toReport(d: TokenCheck, token: string): Report {
  const base = { issuer: d.issuer ?? null, mode: d.mode ?? null, cacheTtlSeconds: d.cacheTtlSeconds };
  if (d.status === 'valid') {
    return { decision: 'valid', ...base, user: d.user, userClaim: d.claim, claims: redact(d.evidence, token) as Record<string, unknown> };
  }
  return { decision: d.status === 'invalid' ? 'rejected' : 'unavailable', ...base, reason: redactText(d.reason, token) };
}

function human(r: Report): string {
  const lines = [`${r.decision}${r.user ? `: ${r.user}` : r.reason ? `: ${r.reason}` : ''}`];
  lines.push(`  issuer: ${r.issuer ?? '(none matched)'}`, `  mode:   ${r.mode ?? '-'}`);
  if (r.userClaim) lines.push(`  user from claim: ${r.userClaim}`);
  for (const [k, v] of Object.entries(r.claims ?? {})) {
    const when = k === 'exp' && typeof v === 'number' ? ` (${new Date(v * 1000).toISOString()})` : '';
    lines.push(`  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}${when}`);
  }
  lines.push(`  cache TTL: ${r.cacheTtlSeconds} s`);
  return `${lines.join('\n')}\n`;
}

// JWS compact form, or a long unbroken credential-like string (opaque tokens such as ya29.…).
const TOKEN_LIKE = /[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}|[A-Za-z0-9_\-.~+/=]{80,}/g;

export function redactText(s: string, token: string): string {
  return s.split(token).join('[redacted]').replace(TOKEN_LIKE, '[redacted]');
}

function redact(v: unknown, token: string): unknown {
  if (typeof v === 'string') return redactText(v, token);
  if (Array.isArray(v)) return v.map((x) => redact(x, token));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redact(x, token)]));
  return v;
}
