// Two listeners on one port (a copy-paste slip in a compose file: LISTEN_POP3=0.0.0.0:143)
// would fail at bind time, one at a time; found here, the slip is listed with every other
// problem before anything starts. Port 0 (any free port, tests) never clashes. Hosts are
// compared as written: a wildcard clashes with every host, two names are not resolved.
import { KEYS, type KeySpec } from './keys.js';
import type { ListenAddress } from './types.js';
import { parseValue } from './values.js';

const WILDCARDS = new Set(['0.0.0.0', '::']);

export function listenClashes(raw: (spec: KeySpec) => string): string[] {
  const bound: Array<[string, ListenAddress]> = [];
  for (const spec of KEYS) {
    if (spec.kind !== 'listen') continue;
    const r = parseValue(spec, raw(spec)); // a bad value is its own section's problem
    if (r.ok && r.value && (r.value as ListenAddress).port !== 0) bound.push([spec.name, r.value as ListenAddress]);
  }
  const problems: string[] = [];
  for (let i = 0; i < bound.length; i++) {
    for (let j = i + 1; j < bound.length; j++) {
      const [ka, a] = bound[i]!;
      const [kb, b] = bound[j]!;
      if (a.port !== b.port) continue;
      if (a.host === b.host || WILDCARDS.has(a.host) || WILDCARDS.has(b.host)) {
        problems.push(`${ka} (${a.host}:${a.port}) and ${kb} (${b.host}:${b.port}) use the same port: give each listener its own, or set one empty to disable it`);
      }
    }
  }
  return problems;
}
