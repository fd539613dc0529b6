// Token issuers (issue 4). DMS users configure one issuer with the flat OAUTH2_* keys (the
// implicit issuer); a YAML `issuers:` list configures several, each item taking the same
// settings in lower-case snake form without the OAUTH2_ prefix (`introspection_mode`,
// `audience`, ...). The flat keys are the defaults of every item. Every problem is collected.
import { KEYS, type IssuerKeyName, type KeySpec, type KeyValues } from './keys.js';
import type { IntrospectionMode, IssuerConfig, OpaqueTokenRoute } from './types.js';
import { secretOrFile, typedValues, type Parsed } from './values.js';
import { asciiLower } from '../ascii.js';

/** The YAML key of the issuer list (carried through RawConfig as JSON, like certificates). */
export const ISSUERS_KEY = 'issuers';

/** A YAML issuers: item, keyed by environment names (OAUTH2_AUDIENCE, ...) plus NAME. */
export type RawIssuer = Record<string, string>;

export const ISSUER_KEYS: readonly KeySpec[] = KEYS.filter((s) => s.perIssuer);

/** The YAML item key of a per-issuer env key: OAUTH2_JWKS_URL -> jwks_url. */
export const itemKeyOf = (spec: KeySpec): string => spec.name.replace(/^OAUTH2_/, '').toLowerCase();

/**
 * Asymmetric JWS algorithms only (RFC 7518 §3, RFC 8037). `none` is never accepted, and HS*
 * would let anyone holding the (public) key material or a client secret mint tokens: the
 * classic "HS256 signed with the RSA public key" confusion.
 */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

const list = (v: string): string[] => v.split(/[\s,]+/).filter(Boolean);

/** Converts the YAML `issuers:` value into raw items; problems are appended, never thrown. */
export function readIssuerItems(where: string, value: unknown, problems: string[]): RawIssuer[] {
  if (!Array.isArray(value) || value.length === 0) {
    problems.push(`${where}: issuers must be a non-empty list of mappings`);
    return [];
  }
  const byItemKey = new Map(ISSUER_KEYS.map((s) => [itemKeyOf(s), s.name]));
  return value.map((item, i) => {
    const out: RawIssuer = {};
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      problems.push(`${where}: issuers[${i}] must be a mapping`);
      return out;
    }
    for (const [key, v] of Object.entries(item as Record<string, unknown>)) {
      const target = key === 'name' ? 'NAME' : byItemKey.get(key);
      if (!target) {
        problems.push(`${where}: issuers[${i}]: unknown key ${key} (known: name, ${[...byItemKey.keys()].join(', ')})`);
        continue;
      }
      const scalar = (x: unknown): string | undefined =>
        x === null ? '' : typeof x === 'boolean' ? (x ? '1' : '0') : typeof x === 'string' || typeof x === 'number' ? String(x) : undefined;
      const s = Array.isArray(v) ? (v.every((x) => scalar(x) !== undefined) ? v.map(scalar).join(' ') : undefined) : scalar(v);
      if (s === undefined) problems.push(`${where}: issuers[${i}].${key} must be a scalar or a list of scalars`);
      else out[target] = s;
    }
    return out;
  });
}

export function loadIssuers(
  raw: (spec: KeySpec) => string,
  items: readonly RawIssuer[] | undefined,
  parse: (spec: KeySpec, raw: string) => Parsed<unknown>,
  problems: string[],
): IssuerConfig[] {
  const alone = (items?.length ?? 0) <= 1;
  const issuers = items?.length
    ? items.map((item, i) => loadIssuer(raw, item, `issuers[${i}]${item.NAME ? ` (${item.NAME})` : ''}`, item.NAME || `issuer-${i + 1}`, alone, parse, problems))
    : [loadIssuer(raw, undefined, '', 'default', alone, parse, problems)];
  checkOpaqueRoutes(issuers, problems);
  const seen = new Map<string, string>();
  for (const is of issuers) {
    if (seen.has(`name:${is.name}`)) problems.push(`issuers: name ${is.name} is used twice`);
    seen.set(`name:${is.name}`, is.name);
    // A JWT is routed by its iss: two issuers with one iss would make that ambiguous.
    if (is.issuer && seen.has(`iss:${is.issuer}`)) problems.push(`issuers: issuer ${is.issuer} is configured twice (${seen.get(`iss:${is.issuer}`)}, ${is.name})`);
    if (is.issuer) seen.set(`iss:${is.issuer}`, is.name);
  }
  return issuers;
}

function loadIssuer(
  raw: (spec: KeySpec) => string,
  item: RawIssuer | undefined,
  where: string,
  name: string,
  /** The only issuer: by default it is sent every opaque token, as a DMS env-only setup expects. */
  alone: boolean,
  parse: (spec: KeySpec, raw: string) => Parsed<unknown>,
  problems: string[],
): IssuerConfig {
  const label = (key: string): string => {
    if (!item) return key;
    const spec = ISSUER_KEYS.find((s) => s.name === key);
    return `${where}.${spec ? itemKeyOf(spec) : key}`;
  };
  const problem = (key: string, text: string): void => { problems.push(`${label(key)}: ${text}`); };
  // The item's value, else the flat key's; a bad one is a problem and reads as empty.
  const v: Pick<KeyValues, IssuerKeyName> = typedValues(ISSUER_KEYS, (spec) => {
    const r = parse(spec, item?.[spec.name] ?? raw(spec));
    if (r.ok) return r.value;
    problem(spec.name, r.error);
    return spec.kind === 'int' ? 0 : spec.kind === 'bool' ? false : '';
  });

  const mode: IntrospectionMode = v.OAUTH2_INTROSPECTION_MODE || 'auth';
  const introspectionUrl = v.OAUTH2_INTROSPECTION_URL;
  const issuer = v.OAUTH2_ISSUER.trim();
  // Kept verbatim (no URL normalisation): `iss` must equal it exactly (RFC 9068 §4, OIDC Discovery §4.3).
  if (issuer && !/^https?:\/\/[^\s/]+/.test(issuer)) problem('OAUTH2_ISSUER', 'expected an http(s) URL');
  const jwksUrl = v.OAUTH2_JWKS_URL;
  const audiences = list(v.OAUTH2_AUDIENCE);

  const algorithms: string[] = [];
  for (const a of list(v.OAUTH2_ALGORITHMS)) {
    const known = ASYMMETRIC_ALGORITHMS.find((x) => x.toLowerCase() === a.toLowerCase());
    if (known) algorithms.push(known);
    else if (/^(hs\d+|none)$/i.test(a)) problem('OAUTH2_ALGORITHMS', `${a} is refused: only asymmetric algorithms (${ASYMMETRIC_ALGORITHMS.join(', ')})`);
    else problem('OAUTH2_ALGORITHMS', `unknown algorithm ${a} (one of ${ASYMMETRIC_ALGORITHMS.join(', ')})`);
  }
  if (algorithms.length === 0 && (mode === 'local' || mode === 'auto')) problem('OAUTH2_ALGORITHMS', 'must name at least one algorithm');
  const jwtTypes = list(v.OAUTH2_JWT_TYP).map(normaliseTyp);

  const clientId = v.OAUTH2_CLIENT_ID.trim();
  const clientSecret = secretOrFile(v.OAUTH2_CLIENT_SECRET, v.OAUTH2_CLIENT_SECRET_FILE, (e) => problem('OAUTH2_CLIENT_SECRET_FILE', e));
  const clientAuth = v.OAUTH2_CLIENT_AUTH;

  const usernameAttribute = v.OAUTH2_USERNAME_ATTRIBUTE.trim();
  if (!usernameAttribute) problem('OAUTH2_USERNAME_ATTRIBUTE', 'must not be empty');
  const defaultDomain = asciiLower(v.OAUTH2_DEFAULT_DOMAIN.trim()).replace(/^@/, '');
  if (defaultDomain && !DOMAIN.test(defaultDomain)) problem('OAUTH2_DEFAULT_DOMAIN', 'expected a domain name such as example.com');
  const allowedDomains = list(v.OAUTH2_ALLOWED_DOMAINS).map((d) => asciiLower(d).replace(/^@/, ''));
  for (const d of allowedDomains) if (!DOMAIN.test(d)) problem('OAUTH2_ALLOWED_DOMAINS', `${d} is not a domain name`);
  const requiredScopes = list(v.OAUTH2_REQUIRED_SCOPES);
  const requiredGroups = list(v.OAUTH2_REQUIRED_GROUPS);
  const groupsClaim = v.OAUTH2_GROUPS_CLAIM.trim();
  if (requiredGroups.length && !groupsClaim) problem('OAUTH2_GROUPS_CLAIM', 'must not be empty when OAUTH2_REQUIRED_GROUPS is set');

  // What each mode needs (issue 4; IDP-NOTES §2, §4).
  const remote = mode === 'auth' || mode === 'get' || mode === 'post' || mode === 'auto';
  if (remote && !introspectionUrl && !(issuer && mode !== 'get')) {
    const what = { auth: 'the IdP userinfo endpoint', get: 'the tokeninfo endpoint', post: 'the RFC 7662 introspection endpoint', auto: 'the introspection or userinfo endpoint for opaque tokens' }[mode];
    problem('OAUTH2_INTROSPECTION_URL', `required (${what})${mode === 'get' ? '' : ', or set OAUTH2_ISSUER to discover it'}`);
  }
  if ((mode === 'local' || mode === 'auto') && !issuer) problem('OAUTH2_ISSUER', `required for mode ${mode} (the exact iss of the tokens)`);
  if ((mode === 'local' || mode === 'auto') && audiences.length === 0) {
    problem('OAUTH2_AUDIENCE', `required for mode ${mode}: a signature proves who issued a token, not for whom (use a dedicated audience, not the mail client's id)`);
  }
  if (mode === 'auth' && audiences.length) problem('OAUTH2_AUDIENCE', 'cannot be checked in mode auth: a userinfo answer carries no audience (use post, local or auto)');
  if (mode === 'auth' && requiredScopes.length) problem('OAUTH2_REQUIRED_SCOPES', 'cannot be checked in mode auth: a userinfo answer carries no scope (use post, get, local or auto)');
  if (mode === 'post' && !clientId) problem('OAUTH2_CLIENT_ID', 'required for mode post (RFC 7662 §2.1: the introspection caller authenticates)');
  // auto requires an audience; only introspection can show one for an opaque token (userinfo
  // cannot), so without a client it could never accept one: say so now, not at every login.
  if (mode === 'auto' && !clientId) problem('OAUTH2_CLIENT_ID', 'required for mode auto (opaque tokens are introspected: userinfo proves no audience); for JWTs only, use mode local');
  const opaqueTokens = parseOpaqueRoute(v.OAUTH2_OPAQUE_TOKENS, mode, alone, (text) => problem('OAUTH2_OPAQUE_TOKENS', text));
  if (clientId && !clientSecret && (mode === 'post' || mode === 'auto')) problem('OAUTH2_CLIENT_SECRET', `required with OAUTH2_CLIENT_ID (or OAUTH2_CLIENT_SECRET_FILE)`);

  return {
    name,
    mode,
    introspectionUrl,
    issuer,
    jwksUrl,
    audiences,
    algorithms,
    jwtTypes,
    clockToleranceSeconds: v.OAUTH2_CLOCK_TOLERANCE_SECONDS,
    client: clientId ? { id: clientId, secret: clientSecret, auth: clientAuth } : null,
    usernameAttribute,
    defaultDomain,
    requiredScopes,
    requiredGroups,
    groupsClaim,
    allowedDomains,
    requireEmailVerified: v.OAUTH2_REQUIRE_EMAIL_VERIFIED,
    opaqueTokens,
  };
}

/**
 * OAUTH2_OPAQUE_TOKENS (issue 16): an opaque token says nothing about its issuer, and sending
 * it to an IdP discloses it there (that IdP's operator could replay it). So each issuer names
 * the opaque tokens it is sent: all, none, or those with given prefixes (Google's `ya29.`).
 */
function parseOpaqueRoute(value: string, mode: IntrospectionMode, alone: boolean, problem: (text: string) => void): OpaqueTokenRoute {
  const words = list(value);
  if (words.length === 0) return alone && mode !== 'local' ? 'all' : 'none';
  if (words.length === 1 && (words[0] === 'all' || words[0] === 'none')) {
    if (words[0] === 'all' && mode === 'local') problem('mode local validates JWTs only: use none');
    return words[0] === 'none' || mode === 'local' ? 'none' : 'all';
  }
  if (words.some((w) => w === 'all' || w === 'none')) problem('all or none stand alone, not in a list of prefixes');
  if (mode === 'local') problem('mode local validates JWTs only: use none');
  return { prefixes: words.filter((w) => w !== 'all' && w !== 'none') };
}

/** A token goes to one issuer at most: one catch-all, and no prefix that another one's covers. */
function checkOpaqueRoutes(issuers: readonly IssuerConfig[], problems: string[]): void {
  const all = issuers.filter((i) => i.opaqueTokens === 'all');
  if (all.length > 1) problems.push(`issuers: opaque_tokens: all is set for ${all.map((i) => i.name).join(', ')}: an opaque token would be sent to each of them (set prefixes, or all for one issuer only)`);
  const prefixes = issuers.flatMap((i) => (typeof i.opaqueTokens === 'object' ? i.opaqueTokens.prefixes.map((p) => ({ p, name: i.name })) : []));
  prefixes.forEach((a, i) => {
    for (const b of prefixes.slice(i + 1)) {
      if (a.name !== b.name && (a.p.startsWith(b.p) || b.p.startsWith(a.p))) problems.push(`issuers: opaque token prefix ${a.p} (${a.name}) overlaps ${b.p} (${b.name})`);
    }
  });
}

const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** RFC 7515 §4.1.9: "application/" may be omitted from typ, and media types compare case-insensitively. */
export function normaliseTyp(typ: string): string {
  const t = typ.trim().toLowerCase();
  return t.startsWith('application/') ? t.slice('application/'.length) : t;
}
