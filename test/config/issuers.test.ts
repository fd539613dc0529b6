// Token validation settings: the DMS env-only form (one implicit issuer), start-up checks
// per mode, and the YAML issuers: list.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, readConfigFile } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'o2mp-issuers-'));
const base = { LISTEN_IMAPS: '', LISTEN_SUBMISSIONS: '', ALLOW_PLAINTEXT_AUTH: '1', DMS_MASTER_USER: 'proxy', DMS_MASTER_PASSWORD: 'pw' };

function problems(env: Record<string, string>, file = {}): string {
  try {
    loadConfig({ ...base, ...env }, file);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n');
    throw err;
  }
  return '';
}

t.test('DMS env-only config is one implicit issuer in mode auth', async (t) => {
  const c = loadConfig({ ...base, OAUTH2_INTROSPECTION_URL: 'https://idp.example/userinfo' });
  t.equal(c.oauth2.issuers.length, 1);
  t.match(c.oauth2.issuers[0], {
    name: 'default', mode: 'auth', introspectionUrl: 'https://idp.example/userinfo', usernameAttribute: 'email',
    algorithms: ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'], jwtTypes: ['at+jwt'], clockToleranceSeconds: 30,
    client: null, requireEmailVerified: false, groupsClaim: 'groups',
  });
  t.same(c.oauth2.cache, { ttlSeconds: 300, negativeSeconds: 10, maxEntries: 10000 });
  t.equal(c.oauth2.jwksCooldownSeconds, 30);
});

t.test('what each mode needs is checked at start-up, all at once', async (t) => {
  t.match(problems({}), /OAUTH2_INTROSPECTION_URL: required/);
  t.match(problems({ OAUTH2_INTROSPECTION_MODE: 'post', OAUTH2_INTROSPECTION_URL: 'https://i/x' }), /OAUTH2_CLIENT_ID: required for mode post/);
  t.match(problems({ OAUTH2_INTROSPECTION_MODE: 'post', OAUTH2_ISSUER: 'https://i', OAUTH2_CLIENT_ID: 'c' }), /OAUTH2_CLIENT_SECRET: required/);
  t.equal(problems({ OAUTH2_INTROSPECTION_MODE: 'post', OAUTH2_ISSUER: 'https://i', OAUTH2_CLIENT_ID: 'c', OAUTH2_CLIENT_SECRET: 's' }), '', 'post with discovery');
  const local = problems({ OAUTH2_INTROSPECTION_MODE: 'local' });
  t.match(local, /OAUTH2_ISSUER: required for mode local/);
  t.match(local, /OAUTH2_AUDIENCE: required for mode local/);
  t.match(problems({ OAUTH2_INTROSPECTION_MODE: 'local', OAUTH2_ISSUER: 'not a url', OAUTH2_AUDIENCE: 'a' }), /OAUTH2_ISSUER: expected an http\(s\) URL/);
  t.match(problems({ OAUTH2_INTROSPECTION_MODE: 'get' }), /OAUTH2_INTROSPECTION_URL: required \(the tokeninfo endpoint\)/);
  t.match(problems({ OAUTH2_INTROSPECTION_URL: 'https://i/u', OAUTH2_AUDIENCE: 'x' }), /OAUTH2_AUDIENCE: cannot be checked in mode auth/);
  t.match(problems({ OAUTH2_INTROSPECTION_URL: 'https://i/u', OAUTH2_REQUIRED_SCOPES: 'mail' }), /OAUTH2_REQUIRED_SCOPES: cannot be checked in mode auth/);
  t.match(problems({ OAUTH2_INTROSPECTION_MODE: 'sometimes' }), /OAUTH2_INTROSPECTION_MODE: expected one of auth, get, post, local, auto/);
  t.match(problems({ OAUTH2_INTROSPECTION_URL: 'ftp://x' }), /OAUTH2_INTROSPECTION_URL: expected an http\(s\) URL/);
  const algs = problems({ OAUTH2_INTROSPECTION_MODE: 'local', OAUTH2_ISSUER: 'https://i', OAUTH2_AUDIENCE: 'a', OAUTH2_ALGORITHMS: 'RS256 HS256 none XY999' });
  t.match(algs, /HS256 is refused/);
  t.match(algs, /none is refused/);
  t.match(algs, /unknown algorithm XY999/);
  t.match(problems({ OAUTH2_INTROSPECTION_URL: 'https://i/u', OAUTH2_DEFAULT_DOMAIN: 'not a domain' }), /OAUTH2_DEFAULT_DOMAIN/);
  t.match(problems({ OAUTH2_INTROSPECTION_URL: 'https://i/u', OAUTH2_CLOCK_TOLERANCE_SECONDS: '9999' }), /OAUTH2_CLOCK_TOLERANCE_SECONDS: must be at most 300/);
  t.match(problems({ OAUTH2_INTROSPECTION_URL: 'https://i/u', OAUTH2_CLIENT_SECRET_FILE: join(dir, 'missing') }), /OAUTH2_CLIENT_SECRET_FILE: file not found/);
});

t.test('secret file, typ normalisation, lists', async (t) => {
  const f = join(dir, 'secret');
  writeFileSync(f, 's3cret\n');
  const c = loadConfig({
    ...base, OAUTH2_INTROSPECTION_MODE: 'auto', OAUTH2_ISSUER: 'https://kc.example/realms/mail', OAUTH2_AUDIENCE: 'mail-proxy other',
    OAUTH2_CLIENT_ID: 'proxy', OAUTH2_CLIENT_SECRET_FILE: f, OAUTH2_JWT_TYP: 'JWT application/at+jwt', OAUTH2_ALGORITHMS: 'rs256,es256',
    OAUTH2_ALLOWED_DOMAINS: 'Example.COM @example.org', OAUTH2_DEFAULT_DOMAIN: '@Example.com',
  });
  const is = c.oauth2.issuers[0]!;
  t.same(is.client, { id: 'proxy', secret: 's3cret', auth: 'basic' });
  t.same(is.jwtTypes, ['jwt', 'at+jwt']);
  t.same(is.algorithms, ['RS256', 'ES256']);
  t.same(is.audiences, ['mail-proxy', 'other']);
  t.same(is.allowedDomains, ['example.com', 'example.org']);
  t.equal(is.defaultDomain, 'example.com');
  t.equal(is.issuer, 'https://kc.example/realms/mail', 'issuer kept verbatim (no trailing slash added)');
});

t.test('YAML issuers: list; flat keys are defaults; unknown keys refused; every problem at once', async (t) => {
  const f = join(dir, 'issuers.yaml');
  writeFileSync(f, `
OAUTH2_DEFAULT_DOMAIN: example.com
OAUTH2_CACHE_TTL_SECONDS: 120
issuers:
  - name: keycloak
    introspection_mode: local
    issuer: https://kc.example/realms/mail
    audience: [mail-proxy]
    jwt_typ: JWT
    required_groups: [mail]
    groups_claim: realm_access.roles
  - name: google
    introspection_mode: get
    introspection_url: https://oauth2.googleapis.com/tokeninfo
    audience: 1234.apps.googleusercontent.com
    require_email_verified: true
    default_domain: gmail.com
`);
  const c = loadConfig(base, readConfigFile(f));
  t.equal(c.oauth2.issuers.length, 2);
  t.match(c.oauth2.issuers[0], { name: 'keycloak', mode: 'local', audiences: ['mail-proxy'], jwtTypes: ['jwt'], requiredGroups: ['mail'], groupsClaim: 'realm_access.roles', defaultDomain: 'example.com' });
  t.match(c.oauth2.issuers[1], { name: 'google', mode: 'get', requireEmailVerified: true, defaultDomain: 'gmail.com' });
  t.equal(c.oauth2.cache.ttlSeconds, 120);

  writeFileSync(f, `issuers:\n  - name: a\n    audiance: typo\n    introspection_mode: local\n`);
  t.throws(() => readConfigFile(f), /issuers\[0\]: unknown key audiance/);
  writeFileSync(f, `issuers:\n  - name: a\n    introspection_mode: local\n  - name: a\n    introspection_mode: post\n    introspection_url: https://x/i\n`);
  const all = problems({}, readConfigFile(f));
  t.match(all, /issuers\[0\] \(a\)\.issuer: required for mode local/);
  t.match(all, /issuers\[0\] \(a\)\.audience: required/);
  t.match(all, /issuers\[1\] \(a\)\.client_id: required for mode post/);
  t.match(all, /name a is used twice/);
  writeFileSync(f, `issuers:\n  - introspection_mode: local\n    issuer: https://i\n    audience: a\n  - introspection_mode: auto\n    issuer: https://i\n    audience: a\n`);
  t.match(problems({}, readConfigFile(f)), /issuer https:\/\/i is configured twice/);
  writeFileSync(f, `issuers: {}\n`);
  t.throws(() => readConfigFile(f), /issuers must be a non-empty list/);
});

t.test('OAUTH2_OPAQUE_TOKENS: the only issuer takes them; in a list, none unless configured; never two', async (t) => {
  t.equal(loadConfig({ ...base, OAUTH2_INTROSPECTION_URL: 'https://i/u' }).oauth2.issuers[0]!.opaqueTokens, 'all', 'DMS env-only: as before');
  t.equal(loadConfig({ ...base, OAUTH2_INTROSPECTION_MODE: 'local', OAUTH2_ISSUER: 'https://i', OAUTH2_AUDIENCE: 'a' }).oauth2.issuers[0]!.opaqueTokens, 'none', 'local: JWTs only');
  t.same(loadConfig({ ...base, OAUTH2_INTROSPECTION_URL: 'https://i/u', OAUTH2_OPAQUE_TOKENS: 'ya29. other_' }).oauth2.issuers[0]!.opaqueTokens, { prefixes: ['ya29.', 'other_'] });
  const f = join(dir, 'opaque.yaml');
  const two = (a: string, b: string) => `issuers:\n  - name: a\n    introspection_url: https://a/u\n${a}  - name: b\n    introspection_url: https://b/u\n${b}`;
  writeFileSync(f, two('', ''));
  t.same(loadConfig(base, readConfigFile(f)).oauth2.issuers.map((i) => i.opaqueTokens), ['none', 'none'], 'several issuers: none by default');
  writeFileSync(f, `issuers:\n  - name: a\n    introspection_url: https://a/u\n`);
  t.same(loadConfig(base, readConfigFile(f)).oauth2.issuers.map((i) => i.opaqueTokens), ['all'], 'a list of one is the only issuer');
  writeFileSync(f, two('', '    opaque_tokens: all\n'));
  t.same(loadConfig(base, readConfigFile(f)).oauth2.issuers.map((i) => i.opaqueTokens), ['none', 'all']);
  writeFileSync(f, two('    opaque_tokens: all\n', '    opaque_tokens: all\n'));
  t.match(problems({}, readConfigFile(f)), /opaque_tokens: all is set for a, b/);
  t.match(problems({ OAUTH2_OPAQUE_TOKENS: 'all' }, readConfigFile(f)), /all is set for a, b/, 'the flat key as every item\'s default: still refused');
  writeFileSync(f, two('    opaque_tokens: [ya29.]\n', '    opaque_tokens: [ya2]\n'));
  t.match(problems({}, readConfigFile(f)), /prefix ya29\. \(a\) overlaps ya2 \(b\)/);
  t.match(problems({ OAUTH2_INTROSPECTION_MODE: 'local', OAUTH2_ISSUER: 'https://i', OAUTH2_AUDIENCE: 'a', OAUTH2_OPAQUE_TOKENS: 'all' }), /OAUTH2_OPAQUE_TOKENS: mode local validates JWTs only/);
  t.match(problems({ OAUTH2_INTROSPECTION_URL: 'https://i/u', OAUTH2_OPAQUE_TOKENS: 'all ya29.' }), /stand alone/);
});

t.test('mode auto needs introspection client credentials: userinfo proves no audience', async (t) => {
  t.match(problems({ OAUTH2_INTROSPECTION_MODE: 'auto', OAUTH2_ISSUER: 'https://i', OAUTH2_AUDIENCE: 'a' }), /OAUTH2_CLIENT_ID: required for mode auto/);
});
