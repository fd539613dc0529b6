import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, loadSections, readConfigFile } from '../../src/config/load.js';
import { writePemPair } from '../harness/certs.js';
import { readSections, SECTION_NAMES } from '../../src/config/sections.js';
import { KEYS } from '../../src/config/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'o2mp-config-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
await writePemPair(cert, key);
const minimal = {
  OAUTH2_INTROSPECTION_URL: 'https://idp.example/userinfo',
  DMS_MASTER_USER: 'proxy',
  DMS_MASTER_PASSWORD: 'pw',
  SSL_CERT_PATH: cert,
  SSL_KEY_PATH: key,
};

t.test('defaults are the documented DMS-compatible ones', async (t) => {
  const c = loadConfig(minimal);
  t.same(c.listen.imap, { host: '0.0.0.0', port: 143 });
  t.same(c.listen.imaps, { host: '0.0.0.0', port: 993 });
  t.equal(c.oauth2.issuers.length, 1);
  t.equal(c.oauth2.issuers[0]!.mode, 'auth');
  t.equal(c.oauth2.issuers[0]!.usernameAttribute, 'email');
  t.equal(c.backend.host, 'mailserver');
  t.equal(c.backend.imapPort, 143);
  t.equal(c.backend.tls, 'starttls');
  t.equal(c.backend.tlsVerify, true);
  t.equal(c.backend.servername, 'mailserver');
  t.equal(c.allowPlaintextAuth, false);
  t.equal(c.sessions.idleTimeoutMs, 30 * 60 * 1000);
  t.equal(c.sessions.preauthTimeoutMs, 60 * 1000);
});

t.test('every problem is reported at once', async (t) => {
  try {
    loadConfig({ LISTEN_IMAP: 'nonsense', DMS_IMAP_PORT: '70000', DMS_TLS: 'sometimes', ALLOW_PLAINTEXT_AUTH: 'maybe', OAUTH2_TIMEOUT_MS: 'x' });
    t.fail('should throw');
  } catch (err) {
    t.ok(err instanceof ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    for (const key of ['LISTEN_IMAP', 'DMS_IMAP_PORT', 'DMS_TLS', 'ALLOW_PLAINTEXT_AUTH', 'OAUTH2_TIMEOUT_MS', 'OAUTH2_INTROSPECTION_URL', 'DMS_MASTER_USER', 'DMS_MASTER_PASSWORD', 'LISTEN_IMAPS']) {
      t.match(problems, key, `names ${key}`);
    }
  }
});

t.test('an empty listener value disables it; no certificate needs plaintext allowed', async (t) => {
  const noTls = { ...minimal, SSL_CERT_PATH: '', SSL_KEY_PATH: '', LISTEN_IMAPS: '', LISTEN_SUBMISSIONS: '' };
  const c = loadConfig({ ...noTls, ALLOW_PLAINTEXT_AUTH: '1' });
  t.equal(c.listen.imaps, null);
  t.equal(c.listen.submissions, null);
  t.equal(c.tls, null);
  t.throws(() => loadConfig(noTls), { code: 'ERR_CONFIG_INVALID' });
  t.throws(() => loadConfig({ ...minimal, SSL_CERT_PATH: '', SSL_KEY_PATH: '', LISTEN_IMAPS: '', ALLOW_PLAINTEXT_AUTH: '1' }), /LISTEN_SUBMISSIONS needs SSL_CERT_PATH/);
});

t.test('IPv6 listeners and the master password file', async (t) => {
  const pwFile = join(dir, 'master');
  writeFileSync(pwFile, 's3cret\n');
  const c = loadConfig({ ...minimal, DMS_MASTER_PASSWORD: '', DMS_MASTER_PASSWORD_FILE: pwFile, LISTEN_IMAP: '[::1]:1143' });
  t.same(c.listen.imap, { host: '::1', port: 1143 });
  t.equal(c.backend.masterPassword, 's3cret', 'trailing newline stripped');
});

t.test('a secret from a Windows-edited file or env file loses its trailing CRLF, and nothing inside it', async (t) => {
  const pwFile = join(dir, 'master-crlf');
  writeFileSync(pwFile, 's3cret\r\n');
  const fromFile = loadConfig({ ...minimal, DMS_MASTER_PASSWORD: '', DMS_MASTER_PASSWORD_FILE: pwFile });
  t.equal(fromFile.backend.masterPassword, 's3cret', '_FILE: CRLF stripped');
  // An env_file line `DMS_MASTER_PASSWORD=s3cret<CR><LF>` is split at the LF: the CR stays in the value.
  for (const [raw, want] of [['s3cret\r', 's3cret'], ['s3cret\r\n', 's3cret'], ['s3cret\n', 's3cret'], ['s3\r\ncret', 's3\r\ncret'], [' s3cret ', ' s3cret ']]) {
    const c = loadConfig({ ...minimal, DMS_MASTER_PASSWORD: raw!, OAUTH2_CLIENT_ID: 'mail-proxy', OAUTH2_CLIENT_SECRET: raw! });
    t.equal(c.backend.masterPassword, want, `env ${JSON.stringify(raw)}: master password ${JSON.stringify(want)}`);
    t.equal(c.oauth2.issuers[0]!.client?.secret, want, `env ${JSON.stringify(raw)}: client secret ${JSON.stringify(want)}`);
  }
});

/**
 * The problems loadConfig lists for each env, as a user root is not: root writes in any
 * directory, so under root (CI) they come from one child process run as nobody.
 */
function problemsAsUser(envs: Array<Record<string, string>>): string[] {
  if (process.getuid?.() !== 0) {
    return envs.map((env) => {
      try {
        loadConfig(env);
        return '';
      } catch (err) {
        if (err instanceof ConfigError) return err.problems.join('\n');
        throw err;
      }
    });
  }
  const load = new URL('../../src/config/load.ts', import.meta.url).href;
  const script = `const { loadConfig } = await import(${JSON.stringify(load)});
process.stdout.write(JSON.stringify(JSON.parse(process.env.O2MP_CONFIG_ENVS).map((env) => {
  try { loadConfig(env); return ''; } catch (err) { return (err.problems ?? [String(err)]).join('\\n'); }
})));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    uid: 65534, gid: 65534, cwd: tmpdir(), encoding: 'utf8', timeout: 20_000,
    env: { PATH: process.env.PATH ?? '', O2MP_CONFIG_ENVS: JSON.stringify(envs) },
  });
  if (r.status !== 0) throw new Error(`config child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

t.test('APP_PASSWORDS_FILE in a directory the proxy cannot write in: a start-up problem, listed with the others', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'o2mp-ap-'));
  chmodSync(base, 0o755);
  const ro = join(base, 'ro');
  const rw = join(base, 'rw');
  mkdirSync(ro, { mode: 0o555 });
  mkdirSync(rw);
  chmodSync(rw, 0o777); // past the umask
  // No certificate (the child may not read the key): plaintext listeners on a trusted network.
  const plain = { ...minimal, SSL_CERT_PATH: '', SSL_KEY_PATH: '', LISTEN_IMAPS: '', LISTEN_SUBMISSIONS: '', ALLOW_PLAINTEXT_AUTH: '1' };
  const [refused, writable, shared] = problemsAsUser([
    { ...plain, APP_PASSWORDS_FILE: join(ro, 'ap.json'), DMS_IMAP_PORT: '70000' },
    { ...plain, APP_PASSWORDS_FILE: join(rw, 'ap.json') },
    { ...plain, APP_PASSWORDS_FILE: join(ro, 'ap.json'), SHARED_STATE_URL: 'redis://127.0.0.1:6379/0' },
  ]);
  t.match(refused, new RegExp(`APP_PASSWORDS_FILE: the directory of ${join(ro, 'ap.json')} is not writable`), 'the file cannot be written: named at start-up');
  t.match(refused, /DMS_IMAP_PORT/, 'with the other problems');
  t.equal(writable, '', 'a directory it may write in: no problem');
  t.equal(shared, '', 'with SHARED_STATE_URL the file is only read (imported once): its directory need not be writable');
});

t.test('the error text never contains the master password', async (t) => {
  const err = t.throws(() => loadConfig({ ...minimal, DMS_MASTER_PASSWORD: 'hunter2-secret', DMS_MASTER_USER: 'bad user' })) as unknown as Error;
  t.notMatch(String(err?.message), /hunter2-secret/);
});

t.test('YAML file: same keys, environment wins, unknown keys refused', async (t) => {
  const f = join(dir, 'c.yaml');
  writeFileSync(f, `DMS_HOST: dms.internal\nDMS_IMAP_PORT: 10143\nALLOW_PLAINTEXT_AUTH: false\n`);
  const c = loadConfig({ ...minimal, DMS_HOST: 'from-env' }, readConfigFile(f));
  t.equal(c.backend.host, 'from-env');
  t.equal(c.backend.imapPort, 10143);
  writeFileSync(f, `DMS_HOTS: typo\n`);
  t.throws(() => readConfigFile(f), /unknown key DMS_HOTS/);
});

t.test('a command loads only its sections; run still lists every problem at once (issue 15)', async (t) => {
  const tokenOnly = { OAUTH2_INTROSPECTION_URL: 'https://idp.example/userinfo', DMS_IMAP_PORT: 'x' };
  const { tokens } = loadSections(tokenOnly, {}, ['tokens']);
  t.equal(tokens.oauth2.issuers[0]!.introspectionUrl, 'https://idp.example/userinfo', 'no certificate, master account or valid DMS port needed');
  const err = t.throws(() => loadConfig(tokenOnly)) as unknown as ConfigError;
  const all = err.problems.join('\n');
  for (const p of [/LISTEN_IMAPS needs SSL_CERT_PATH/, /DMS_MASTER_USER: required/, /DMS_IMAP_PORT: expected a whole number/]) t.match(all, p);
  t.throws(() => loadSections({}, {}, ['tokens']), /OAUTH2_INTROSPECTION_URL: required/);
});

// A key no section reads would be accepted and silently ignored; one read twice would block
// two commands. Every key whose value can be wrong is refused by exactly one section.
const INVALID: Record<string, string> = { int: 'x', bool: 'maybe', listen: 'nonsense', enum: 'zzz', url: 'not a url', file: '/nonexistent/o2mp' };
t.test('every key belongs to exactly one section', async (t) => {
  for (const key of KEYS) {
    const bad = INVALID[key.kind];
    if (bad === undefined) continue;
    const read = readSections({ [key.name]: bad }, {}, SECTION_NAMES);
    const owners = SECTION_NAMES.filter((n) => { const r = read[n]; return !r.ok && r.problems.some((p) => p.startsWith(`${key.name}: `)); });
    t.equal(owners.length, 1, `${key.name}: ${owners.join(', ') || 'no section'}`);
  }
});

// Config is plain data (issue 17): validated once, then only read. Objects with behaviour
// (a BlockList, a class instance) are built from it where they are used, at start-up.
function nonPlain(value: unknown, path: string): string[] {
  if (value === null || typeof value !== 'object') return typeof value === 'function' ? [path] : [];
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) return [`${path} (${proto?.constructor?.name})`];
  return Object.entries(value).flatMap(([k, v]) => nonPlain(v, `${path}.${k}`));
}

t.test('the loaded config is plain data, and JSON round-trips it', async (t) => {
  const c = loadConfig({ ...minimal, PROXY_PROTOCOL_TRUSTED_NETWORKS: '10.0.0.0/8, 2001:db8::/32 192.0.2.7', LISTEN_SCIM: '' });
  t.same(nonPlain(c, 'config'), [], 'only objects, arrays and primitives');
  t.strictSame(JSON.parse(JSON.stringify(c)), c);
  t.strictSame(c.proxyProtocol.trustedNetworks, [
    { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
    { address: '2001:db8::', prefix: 32, family: 'ipv6' },
    { address: '192.0.2.7', prefix: 32, family: 'ipv4' },
  ]);
  t.strictSame(loadConfig(minimal).proxyProtocol.trustedNetworks, [], 'empty: PROXY protocol off');
  t.throws(() => loadConfig({ ...minimal, PROXY_PROTOCOL_TRUSTED_NETWORKS: '10.0.0.0/33 nonsense' }), /10\.0\.0\.0\/33[\s\S]*nonsense/, 'every bad entry named');
});
