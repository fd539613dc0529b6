// Parsers for single configuration values. Each returns the value or an error text that
// names what was expected; the loader collects every error before it gives up.
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { isIP } from 'node:net';
import type { KeySpec, KeyValues } from './keys.js';
import type { ListenAddress } from './types.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (error: string): Parsed<never> => ({ ok: false, error });

export function parseBool(raw: string): Parsed<boolean> {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return ok(true);
  if (['0', 'false', 'no', 'off'].includes(v)) return ok(false);
  return fail('expected 1 or 0');
}

export function parseInt10(raw: string, spec: Pick<KeySpec, 'min' | 'max'>): Parsed<number> {
  if (!/^\d+$/.test(raw.trim())) return fail('expected a whole number');
  const n = Number(raw.trim());
  if (spec.min !== undefined && n < spec.min) return fail(`must be at least ${spec.min}`);
  if (spec.max !== undefined && n > spec.max) return fail(`must be at most ${spec.max}`);
  return ok(n);
}

/** A DNS name as Docker and Kubernetes resolve them (service names may hold `_`), dot-separated labels. */
export const HOST_NAME = /^(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

const EVERY_ADDRESS = 'every address: 0.0.0.0:PORT (IPv4) or [::]:PORT (IPv4 and IPv6)';

/** "host:port", "[v6]:port" or ":port"; empty means the listener is off. */
export function parseListen(raw: string): Parsed<ListenAddress | null> {
  const v = raw.trim();
  if (v === '') return ok(null);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(v);
  if (!m) return fail(`expected host:port, [ipv6]:port or empty (${EVERY_ADDRESS})`);
  const host = m[1] ?? (m[2] || '0.0.0.0');
  const port = Number(m[3]);
  if (port > 65535) return fail('port must be at most 65535');
  if (m[1] !== undefined && isIP(host) !== 6) return fail('bracketed host must be an IPv6 address');
  // Found at bind time it ended start-up alone ("getaddrinfo ENOTFOUND *"): Dovecot's `*` is no host here.
  if (m[1] === undefined && !isIP(host) && !HOST_NAME.test(host)) return fail(`${JSON.stringify(host)} is no IP address or host name (${EVERY_ADDRESS})`);
  return ok({ host, port });
}

export function parseUrl(raw: string): Parsed<string> {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return fail('expected an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return fail('expected an http(s) URL');
  return ok(url.toString());
}

export function parseFile(raw: string): Parsed<string> {
  const v = raw.trim();
  if (v !== '' && !existsSync(v)) return fail(`file not found: ${v}`);
  return ok(v);
}

/**
 * Why `path` cannot be a state file the proxy creates and rewrites (a directory, or in a
 * directory that does not exist), or null. `writes`: this process replaces it, with a temp
 * file and a lock file beside it (state/atomic-file.ts, file-lock.ts), so its directory must
 * be writable, whether the file exists yet or not.
 */
export function stateFileProblem(path: string, writes: boolean): string | null {
  try {
    const s = statSync(path, { throwIfNoEntry: false });
    if (s?.isDirectory()) return `${path} is a directory, not a file`;
    if (!s && !existsSync(dirname(path))) return `the directory of ${path} does not exist`;
    if (writes) accessSync(dirname(path), constants.W_OK | constants.X_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (writes && (code === 'EACCES' || code === 'EROFS' || code === 'EPERM')) return `the directory of ${path} is not writable (${code}): the proxy writes the file there`;
    return `cannot use ${path}: ${code ?? (err as Error).message}`;
  }
}

export function parseEnum(raw: string, values: readonly string[]): Parsed<string> {
  const v = raw.trim().toLowerCase();
  return values.includes(v) ? ok(v) : fail(`expected one of ${values.join(', ')}`);
}

/** One value of a key from the table, parsed by its kind. */
export function parseValue(spec: KeySpec, raw: string): Parsed<unknown> {
  switch (spec.kind) {
    case 'bool': return parseBool(raw);
    case 'int': return parseInt10(raw, spec);
    case 'listen': return parseListen(raw);
    case 'url': return raw.trim() === '' ? { ok: true, value: '' } : parseUrl(raw);
    case 'file': return parseFile(raw);
    case 'enum': return parseEnum(raw, spec.values ?? []);
    case 'string': return { ok: true, value: raw };
    case 'secret': return { ok: true, value: withoutLineEnd(raw) };
  }
}

/**
 * A secret without the one line end it may carry at its end: a CRLF, LF or a CR alone (an env
 * file edited on Windows is split at the LF, the CR stays). Never more: no secret ends in a
 * control character, but a space or a line end inside it may be part of it.
 */
export function withoutLineEnd(text: string): string {
  return text.replace(/(?:\r?\n|\r)$/, '');
}

/**
 * A secret given inline or, when that is empty, in a file (a Docker/Kubernetes secret); the
 * file's one trailing line end is dropped as an inline value's is (parseValue). An unreadable
 * file is a problem, never the secret text.
 */
export function secretOrFile(value: string, file: string, problem: (text: string) => void): string {
  if (value || !file) return value;
  try {
    return withoutLineEnd(readFileSync(file, 'utf8'));
  } catch (err) {
    problem((err as NodeJS.ErrnoException).code ?? 'unreadable');
    return '';
  }
}

/**
 * The keys as typed fields, each read and parsed the first time it is used: a section (or a
 * command that loads only some) never reads, nor reports problems of, another section's keys.
 */
export function typedValues(specs: readonly KeySpec[], read: (spec: KeySpec) => unknown): KeyValues {
  const out = {};
  for (const spec of specs) {
    let value: unknown;
    let done = false;
    Object.defineProperty(out, spec.name, {
      enumerable: true,
      get: () => {
        if (!done) [value, done] = [read(spec), true];
        return value;
      },
    });
  }
  return out as KeyValues;
}
