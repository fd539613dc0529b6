// The YAML `certificates:` list: more client-facing certificates, chosen by SNI.
//
//   certificates:
//     - names: [mail.example.org, "*.example.org"]
//       cert: /certs/example.org/fullchain.pem
//       key: /certs/example.org/privkey.pem
//
// SSL_CERT_PATH/SSL_KEY_PATH stay the default (clients without SNI or with an unknown name).
import { existsSync, readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { SniCertificate } from './types.js';

/** The key in the config file; readConfigFile keeps its value as JSON text under this name. */
export const CERTIFICATES_KEY = 'certificates';

const NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Validates the list (given as parsed YAML); every problem goes to `problems`. */
export function parseSniCertificates(value: unknown, problems: string[]): SniCertificate[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    problems.push(`${CERTIFICATES_KEY}: expected a list of {names, cert, key}`);
    return [];
  }
  const out: SniCertificate[] = [];
  value.forEach((item: unknown, i) => {
    const where = `${CERTIFICATES_KEY}[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return problems.push(`${where}: expected a mapping with names, cert and key`);
    const { names, cert, key, ...rest } = item as Record<string, unknown>;
    for (const k of Object.keys(rest)) problems.push(`${where}: unknown field ${k}`);
    const list = typeof names === 'string' ? [names] : names;
    const valid = Array.isArray(list) && list.length > 0 && list.every((n) => typeof n === 'string');
    if (!valid) problems.push(`${where}.names: expected one or more domain names`);
    const lower = valid ? (list as string[]).map((n) => n.trim().toLowerCase()) : [];
    for (const n of lower) if (!NAME.test(n)) problems.push(`${where}.names: not a domain name: ${n}`);
    for (const [field, path] of [['cert', cert], ['key', key]] as const) {
      if (typeof path !== 'string' || !path.trim()) problems.push(`${where}.${field}: required (a PEM file path)`);
      else if (!existsSync(path.trim())) problems.push(`${where}.${field}: file not found: ${path.trim()}`);
    }
    if (valid && typeof cert === 'string' && typeof key === 'string') {
      if (existsSync(cert.trim()) && existsSync(key.trim())) for (const p of pemPairProblems(cert.trim(), key.trim())) problems.push(`${where}: ${p}`);
      out.push({ names: lower, certPath: cert.trim(), keyPath: key.trim() });
    }
    return undefined;
  });
  return out;
}

/**
 * Why a certificate chain and key file are not usable for TLS (unreadable, a directory, no
 * PEM, a key that does not match), each problem once; none: []. Found with every other
 * problem at start-up, not when the first listener starts.
 */
export function pemPairProblems(certPath: string, keyPath: string): string[] {
  const cert = pemProblem(certPath, 'certificate', (b) => ({ cert: b }));
  const key = pemProblem(keyPath, 'key', (b) => ({ key: b }));
  if (typeof cert === 'string' || typeof key === 'string') return [cert, key].filter((p): p is string => typeof p === 'string');
  try {
    createSecureContext({ cert, key });
    return [];
  } catch (err) {
    return [`the key ${keyPath} is not the certificate's (${certPath}): ${(err as Error).message}`];
  }
}

/** The file's bytes, or why it cannot be read or parsed as `what`. */
function pemProblem(path: string, what: string, options: (b: Buffer) => SecureContextOptions): Buffer | string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    return `cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  try {
    createSecureContext(options(bytes));
    return bytes;
  } catch (err) {
    return `${path} is no PEM ${what}: ${(err as Error).message}`;
  }
}

/** Why `path` is no usable CA file (unreadable, a directory, no PEM certificate in it), or null. */
export function caFileProblem(path: string): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (err) {
    return `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  // Node takes a CA file without one silently, and every backend TLS connection then fails.
  return /-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----/.test(text) ? null : `${path} holds no PEM certificate`;
}
