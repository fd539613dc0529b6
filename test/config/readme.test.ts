// Every config key is documented in the README with its default (the README table is the
// operator's contract; this keeps it from drifting from src/config/keys.ts).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { KEYS } from '../../src/config/keys.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

for (const key of KEYS) {
  t.test(key.name, async (t) => {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${key.name}\``));
    t.ok(row, `README has a table row for ${key.name}`);
    const shown = key.default === '' ? '(empty)' : `\`${key.default}\``;
    t.ok(row?.includes(shown), `README row shows the default ${shown}`);
  });
}
