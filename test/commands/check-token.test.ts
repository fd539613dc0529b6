// `oauth2-mail-proxy check-token`: the decision, exit codes, --json, stdin, and never the token.
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIdp, DEFAULT_AUDIENCE } from '../harness/idp.js';
import { BASE_ENV } from '../auth/helpers.js';
import { checkTokenCommand } from '../../src/commands/check-token.js';

const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const loader = import.meta.resolve('tsx');

function run(args: string[], env: Record<string, string>, stdin = ''): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', loader, cli, 'check-token', ...args], {
      env: { PATH: process.env.PATH ?? '', ...BASE_ENV, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    // A bound, not a speed test: the child compiles the CLI's TypeScript at start, which took
    // over 30 s on a loaded 2-core CI machine. tap's own per-file timeout (180 s) stays above it.
    const timer = setTimeout(() => { err += '\n[killed after 90 s]'; child.kill(); }, 90_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, out, err }); });
    child.stdin.end(stdin);
  });
}

const idp = await startIdp();
t.teardown(() => idp.stop());
const dir = mkdtempSync(join(tmpdir(), 'omp-check-token-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const local = { OAUTH2_INTROSPECTION_MODE: 'local', OAUTH2_ISSUER: idp.issuer, OAUTH2_AUDIENCE: DEFAULT_AUDIENCE };

t.test('valid JWT: human output with mode, user, deciding claims, cache TTL; exit 0', async (t) => {
  const tok = await idp.mintJwt('alice@example.test');
  const r = await run([tok], local);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^valid: alice@example\.test/);
  t.match(r.out, /mode: +local/);
  t.match(r.out, /user from claim: email/);
  t.match(r.out, /aud: urn:oauth2-mail-proxy/);
  t.match(r.out, /cache TTL: \d+ s/);
  t.notOk(r.out.includes(tok) || r.err.includes(tok), 'the token is never printed');
});

t.test('--json and stdin (-); rejected exits 1', async (t) => {
  const tok = await idp.mintJwt('bob@example.test', { audience: 'https://other.example' });
  const r = await run(['--json', '-'], local, `${tok}\n`);
  t.equal(r.code, 1);
  const j = JSON.parse(r.out) as Record<string, unknown>;
  t.match(j, { decision: 'rejected', issuer: 'default', mode: 'local', reason: /aud/, cacheTtlSeconds: 10 });
  t.notOk(r.out.includes(tok));
});

t.test('opaque token in post mode, JSON', async (t) => {
  const tok = await idp.mintToken('alice@example.test');
  // An opaque token starts with "-" one time in 64: after --, as the usage says.
  const r = await run(['--json', '--', tok], {
    OAUTH2_INTROSPECTION_MODE: 'post', OAUTH2_INTROSPECTION_URL: idp.introspectionUrl,
    OAUTH2_CLIENT_ID: idp.introspectionClient.clientId, OAUTH2_CLIENT_SECRET: idp.introspectionClient.clientSecret,
  });
  t.equal(r.code, 0, r.err);
  t.match(JSON.parse(r.out), { decision: /^valid$/, mode: 'post', user: 'alice@example.test', claims: { sub: String, exp: Number }, cacheTtlSeconds: 300 });
  t.notOk(r.out.includes(tok));
});

t.test('a token starting with "-": validated after --, refused as an option before it, never echoed', async (t) => {
  const tok = `-${'x'.repeat(7)}Q3VzAcSHeLvrr4YNP7pJLFvdMG4gXPjCuTDfUkxOg-I`;
  const after = await run(['--json', '--', tok], local);
  t.equal(after.code, 1, 'after --: checked (and rejected: not a JWT)');
  t.match(JSON.parse(after.out), { decision: 'rejected' });
  const before = await run([tok], local);
  t.equal(before.code, 64, 'before --: a usage error');
  t.match(before.err, /a token goes after --/);
  const typo = await run(['--jsno', 'abc'], local);
  t.match(typo.err, /unknown argument: --jsno\n/, 'a mistyped option is named');
  const twice = await run(['--', 'abc', 'def'], local);
  t.equal(twice.code, 64, 'one token after --');
  for (const r of [after, before]) t.notOk(r.out.includes(tok) || r.err.includes(tok), 'the token is never printed');
});

t.test('IdP unreachable exits 2; bad config exits 78; no token exits 64', async (t) => {
  const r = await run(['some-opaque-token-value'], { OAUTH2_INTROSPECTION_URL: 'http://127.0.0.1:1/userinfo' });
  t.equal(r.code, 2);
  t.match(r.out, /^unavailable: /);
  const bad = await run(['x'], { OAUTH2_INTROSPECTION_MODE: 'local' });
  t.equal(bad.code, 78);
  t.match(bad.err, /OAUTH2_ISSUER/);
  t.equal((await run([], local)).code, 64);
});

/** In-process (no child start-up: cheap on a loaded machine), with exactly `env`. */
async function command(args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await checkTokenCommand(args, { env, stdin: async () => '', out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

t.test('only the token settings are needed: no certificate, master account or valid DMS keys (issue 15)', async (t) => {
  const tok = await idp.mintJwt('alice@example.test');
  // A fresh machine: the listener defaults want SSL_CERT_PATH, DMS_MASTER_USER is unset, and
  // keys of other sections are even invalid. None of it concerns a token check.
  const r = await command([tok], { ...local, DMS_IMAP_PORT: 'not-a-port', LISTEN_IMAP: 'nonsense' });
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^valid: alice@example\.test/);
  t.equal(r.err, '');
  const f = join(dir, 'issuers.yaml');
  writeFileSync(f, `issuers:\n  - name: test\n    introspection_mode: local\n    issuer: ${idp.issuer}\n    audience: ${DEFAULT_AUDIENCE}\n`);
  const yaml = await command(['--json', '--config', f, tok], {});
  t.equal(yaml.code, 0, yaml.err);
  t.match(JSON.parse(yaml.out || '{}'), { decision: /^valid$/, issuer: 'test' });
  const bad = await command([tok], { OAUTH2_INTROSPECTION_MODE: 'local', OAUTH2_ISSUER: idp.issuer });
  t.equal(bad.code, 78, 'a token setting that is wrong still stops it');
  t.match(bad.err, /OAUTH2_AUDIENCE: required/);
  t.notMatch(bad.err, /LISTEN_IMAPS|DMS_MASTER_USER/, 'and only token problems are listed');
});
