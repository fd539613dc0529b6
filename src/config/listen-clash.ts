// Two listeners on one port (a copy-paste slip in a compose file: LISTEN_POP3=0.0.0.0:143)
// would fail at bind time, one at a time; found here, the slip is listed with every other
// problem before anything starts. Port 0 (any free port, tests) never clashes. Hosts are
// compared as written, names are not resolved: `::` (dual-stack, Node's default) clashes with
// every host, `0.0.0.0` with every host but an IPv6 address (Linux lets [::1]:143 bind beside it).
import { isIP } from 'node:net';
import { KEYS, type KeySpec } from './keys.js';
import type { ListenAddress } from './types.js';
import { parseValue } from './values.js';

function covers(wildcard: string, host: string): boolean {
  return wildcard === '::' || (wildcard === '0.0.0.0' && isIP(host) !== 6);
}

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
      if (a.host === b.host || covers(a.host, b.host) || covers(b.host, a.host)) {
        problems.push(`${ka} (${a.host}:${a.port}) and ${kb} (${b.host}:${b.port}) use the same port: give each listener its own, or set one empty to disable it`);
      }
    }
  }
  return problems;
}
