// Loads the configuration once at start-up: defaults < YAML file < environment. Every
// problem is collected and reported together, so an operator fixes them in one go.
import { readFileSync } from 'node:fs';
import { parseDocument, visit, isScalar } from 'yaml';
import { KEYS } from './keys.js';
import { CERTIFICATES_KEY } from './certificates.js';
import type { Config } from './types.js';
import { ISSUERS_KEY, readIssuerItems } from './issuers.js';
import { readSections, SECTION_NAMES, type RawConfig, type SectionName, type SectionResult, type SectionValue } from './sections.js';

export type { RawConfig } from './sections.js';

export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Reads a flat YAML mapping of the same KEY: value pairs the environment uses. */
export function readConfigFile(path: string): RawConfig {
  let doc: unknown;
  try {
    doc = parseAsWritten(readFileSync(path, 'utf8'));
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

/**
 * The YAML text as data, every number and switch as the text it was written as: YAML reads
 * a plain 00112233445566778899 as 112233445566778900, 0x1F as 31 and True as true (which
 * became "1"), so a password, token or client secret of that shape would load as another
 * one. The environment gives text; so does the file (a number or switch key parses the text
 * as it parses an environment value: true/false are switches there too).
 */
function parseAsWritten(text: string): unknown {
  const doc = parseDocument(text);
  if (doc.errors.length) throw doc.errors[0]!;
  visit(doc, {
    Scalar(_key, node) {
      const v = isScalar(node) ? node.value : undefined;
      if ((typeof v === 'number' || typeof v === 'boolean') && node.source !== undefined) node.value = node.source;
    },
  });
  return doc.toJS();
}

/**
 * The whole configuration, for `run`: every section, every problem of every section at once.
 * The sections together are Config: the compiler checks that none is missing here.
 */
export function loadConfig(env: NodeJS.ProcessEnv, file: RawConfig = {}): Config {
  const s = loadSections(env, file, SECTION_NAMES);
  return { ...s.listeners, ...s.tokens, ...s.backend, ...s.sessions, ...s.ops, ...s.scim, ...s.sharedState, ...s.portal };
}

/**
 * Only the named sections, for a command that needs no more (check-token: tokens). Throws
 * every problem of those sections; keys of other sections are not read at all.
 */
export function loadSections<K extends SectionName>(env: NodeJS.ProcessEnv, file: RawConfig, names: readonly K[]): { [P in K]: SectionValue<P> } {
  const read = readSections(env, file, names);
  const problems = names.flatMap((n) => { const r: SectionResult<K> = read[n]; return r.ok ? [] : r.problems; });
  if (problems.length) throw new ConfigError(problems);
  return Object.fromEntries(names.map((n) => [n, (read[n] as { value: unknown }).value])) as { [P in K]: SectionValue<P> };
}
