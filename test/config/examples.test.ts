// The examples in config/ (issue 15) load through the real loader, so an example can never
// drift from the key table: an unknown key, a bad value or a key name in a comment that does
// not exist fails here. Paths the loader checks are pointed at generated test files.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadConfig, readConfigFile } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { KEYS } from '../../src/config/keys.js';
import { ISSUER_KEYS, itemKeyOf } from '../../src/config/issuers.js';
import { makeCerts } from '../harness/certs.js';

const configDir = new URL('../../config/', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'omp-examples-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
const certs = await makeCerts(tmp);
const secretFile = join(tmp, 'secret');
writeFileSync(secretFile, 'example-secret-0123456789\n');

const known = new Set(KEYS.map((k) => k.name));
const fileKeys = new Set([...KEYS, ...ISSUER_KEYS.map((s) => ({ ...s, name: itemKeyOf(s) }))].filter((s) => s.kind === 'file').map((s) => s.name));
/** DMS's own variables, named in comments where the proxy replaces them. */
const DMS_NAMES = new Set(['ENABLE_OAUTH2', 'SSL_TYPE']);

/** A placeholder path the loader checks for existence, pointed at a generated file of the right kind. */
function fill(key: string, value: unknown): unknown {
  if (key === 'DMS_CONFIG_DIR') return tmp;
  if (!fileKeys.has(key) || typeof value !== 'string' || value === '') return value;
  return ({ SSL_CERT_PATH: certs.certFile, SSL_KEY_PATH: certs.keyFile, DMS_TLS_CA_FILE: certs.caFile } as Record<string, string>)[key] ?? secretFile;
}

function loadYaml(text: string): Config {
  const doc = parse(text) as Record<string, unknown>;
  for (const [k, v] of Object.entries(doc)) doc[k] = fill(k, v);
  for (const item of (doc.issuers ?? []) as Array<Record<string, unknown>>) for (const [k, v] of Object.entries(item)) item[k] = fill(k, v);
  for (const c of (doc.certificates ?? []) as Array<Record<string, unknown>>) Object.assign(c, { cert: certs.certFile, key: certs.keyFile });
  const f = join(tmp, 'example.yaml');
  writeFileSync(f, stringify(doc));
  return loadConfig({}, readConfigFile(f));
}

/** KEY=value lines as docker run --env-file reads them: no quotes, no trailing comment. */
function loadEnv(text: string): { config: Config; env: Record<string, string> } {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (/^\s*(#|$)/.test(line)) continue;
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`not KEY=value: ${line}`);
    const [, key, value] = m as unknown as [string, string, string];
    if (!known.has(key)) throw new Error(`unknown key ${key}`);
    if (/["']|\s#/.test(value)) throw new Error(`${key}: quotes or a trailing comment would be part of the value`);
    env[key] = fill(key, value) as string;
  }
  return { config: loadConfig(env), env };
}

/** Key-like names in comments (UPPER_CASE with an underscore) must be keys too. */
function unknownNamesInComments(text: string): string[] {
  const comments = text.split('\n').map((l) => /#(.*)$/.exec(l)?.[1] ?? '').join('\n');
  return [...comments.matchAll(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g)].map((m) => m[0]).filter((n) => !known.has(n) && !DMS_NAMES.has(n));
}

const examples = readdirSync(configDir).filter((f) => /\.(ya?ml|env)$/.test(f));
const yamls = examples.filter((f) => /\.ya?ml$/.test(f));
const envs = examples.filter((f) => f.endsWith('.env'));

t.test('config/ has an example of each kind', async (t) => {
  t.ok(yamls.length >= 1, 'a YAML file for --config');
  t.ok(envs.length >= 1, 'an environment file');
});

for (const name of yamls) {
  t.test(`${name} loads through the real loader`, async (t) => {
    const text = readFileSync(configDir + name, 'utf8');
    const c = loadYaml(text);
    t.ok(c.oauth2.issuers.length >= 2, 'several issuers');
    t.ok(c.sniCertificates.length >= 1, 'certificates chosen by SNI');
    t.equal(c.tls?.certPath, certs.certFile, 'the placeholders were filled');
    const limits = new Set(['MAX_CONNECTIONS_PER_IP', 'AUTH_FAIL_MAX_PER_IP', 'AUTH_FAIL_MAX_PER_USER', 'AUTH_FAIL_BLOCK_SECONDS']);
    t.ok(Object.keys(parse(text) as object).some((k) => limits.has(k)), 'limits');
    t.same(unknownNamesInComments(text), [], 'every key named in a comment exists');
  });
}

for (const name of envs) {
  t.test(`${name} loads through the real loader`, async (t) => {
    const text = readFileSync(configDir + name, 'utf8');
    const { config, env } = loadEnv(text);
    for (const k of ['OAUTH2_INTROSPECTION_URL', 'OAUTH2_INTROSPECTION_MODE', 'OAUTH2_USERNAME_ATTRIBUTE']) t.ok(k in env, `the DMS variable ${k}`);
    t.equal(config.tls?.certPath, certs.certFile, 'the placeholders were filled');
    t.same(unknownNamesInComments(text), [], 'every key named in a comment exists');
  });
}

t.test('the check catches drift: an unknown key or a bad value fails', async (t) => {
  const yaml = readFileSync(configDir + yamls[0]!, 'utf8');
  t.throws(() => loadYaml(`${yaml}\nLISTEN_IMAPX: 0.0.0.0:143\n`), /unknown key LISTEN_IMAPX/);
  t.throws(() => loadYaml(yaml.replace(/^DMS_TLS: .*$/m, 'DMS_TLS: sometimes')), /DMS_TLS: expected one of/);
  t.throws(() => loadYaml(yaml.replace(/^(\s+)audience: /m, '$1audiance: ')), /unknown key audiance/);
  t.same(unknownNamesInComments('# set OAUTH2_AUDIENCES here'), ['OAUTH2_AUDIENCES']);
  const env = readFileSync(configDir + envs[0]!, 'utf8');
  t.throws(() => loadEnv(`${env}\nOAUTH2_INTROSPECTON_MODE=auth\n`), /unknown key OAUTH2_INTROSPECTON_MODE/);
  t.throws(() => loadEnv(env.replace(/^OAUTH2_INTROSPECTION_MODE=.*$/m, 'OAUTH2_INTROSPECTION_MODE=magic')), /OAUTH2_INTROSPECTION_MODE: expected one of/);
  t.throws(() => loadEnv(`${env}\nLOG_LEVEL="debug"\n`), /quotes/);
});
