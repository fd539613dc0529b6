// The package's own version and Node requirement, read from its package.json at run time:
// src/ in a checkout, dist/src/ in a build or in an installed package (node_modules/…).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_NAME = 'oauth2-mail-proxy';
/** src/ and dist/src/ are at most 2 levels below the package root; a little slack, never the whole tree. */
const MAX_LEVELS_UP = 4;

export interface PackageInfo {
  readonly version: string;
  /** engines.node, e.g. ">=20.12"; '' when not given. */
  readonly nodeEngine: string;
}

/**
 * The nearest package.json above `from` that is this package's: a package.json of another
 * name (an app that installed us, or dist/package.json carrying only "type") is passed over.
 */
export function readPackageInfo(from: string = import.meta.url): PackageInfo | null {
  let dir = dirname(fileURLToPath(from));
  for (let i = 0; i <= MAX_LEVELS_UP; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown; engines?: { node?: unknown } };
      if (pkg.name === PACKAGE_NAME && typeof pkg.version === 'string') {
        return { version: pkg.version, nodeEngine: typeof pkg.engines?.node === 'string' ? pkg.engines.node : '' };
      }
    } catch { /* none here, or not JSON: look further up */ }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

/** Whether `nodeVersion` (process.version) meets a ">=X[.Y[.Z]]" engine range; other forms are not judged (true). */
export function meetsNodeEngine(nodeVersion: string, engine: string): boolean {
  const want = /^\s*>=\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$/.exec(engine);
  const have = /^v?(\d+)\.(\d+)\.(\d+)/.exec(nodeVersion);
  if (!want || !have) return true;
  for (let i = 1; i <= 3; i++) {
    const h = Number(have[i]);
    const w = Number(want[i] ?? 0);
    if (h !== w) return h > w;
  }
  return true;
}
