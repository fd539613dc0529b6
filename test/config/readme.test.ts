// The configuration reference stays true to src/config/keys.ts: docs/configuration.md has a row
// with its default for every key, its generated block is what `npm run docs:config` writes today
// (a key added to keys.ts without regenerating fails here), and the README's short table of the
// most used settings shows the same defaults; .ci/run runs the README's test command.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { KEYS } from '../../src/config/keys.js';
import { CONFIG_PAGE, generatedBlock, renderKeyTable, shownDefault } from '../../scripts/config-table.js';

const page = readFileSync(CONFIG_PAGE, 'utf8');
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

t.test('docs/configuration.md has a row with the default of every key', async (t) => {
  for (const key of KEYS) {
    const row = page.split('\n').find((l) => l.startsWith(`| \`${key.name}\``));
    t.ok(row, `docs/configuration.md has a table row for ${key.name}`);
    const shown = shownDefault(key);
    t.ok(row?.includes(shown), `${key.name}: the row shows the default ${shown}`);
  }
});

t.test('the generated table is what scripts/config-table.ts writes now', async (t) => {
  const block = generatedBlock(page);
  t.ok(block, 'docs/configuration.md has the keys:begin / keys:end markers');
  // A plain equality, so a stale row shows up in the diff tap prints.
  t.equal(block, renderKeyTable(), 'up to date with src/config/keys.ts (run `npm run docs:config`)');
});

t.test('every key row in README.md shows the keys.ts default', async (t) => {
  const byName = new Map(KEYS.map((k) => [k.name, k]));
  const rows = readme.split('\n').filter((l) => /^\| `[A-Z0-9_]+` \|/.test(l));
  t.ok(rows.length >= 10, `README.md has its table of the most used settings (${rows.length} rows)`);
  for (const row of rows) {
    const name = /^\| `([A-Z0-9_]+)`/.exec(row)![1]!;
    const key = byName.get(name);
    t.ok(key, `README row ${name} is a key of src/config/keys.ts`);
    if (!key) continue;
    const cells = row.split(' | ');
    t.equal(cells[1], shownDefault(key), `README row ${name} shows the default ${shownDefault(key)}`);
  }
});

t.test('.ci/run runs exactly the test command of the README quick start', async (t) => {
  const quickStart = readme.split('\n## Quick start')[1]?.split('\n## ')[0] ?? '';
  const block = /```sh\n([\s\S]*?)```/.exec(quickStart)?.[1] ?? '';
  const commands = block.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter(Boolean);
  t.ok(commands.includes('npm run demo'), 'the quick start runs the demo');
  // Besides installing and the demo, the quick start gives one command: the tests.
  const rest = commands.filter((c) => c !== 'npm ci' && c !== 'npm run demo');
  t.equal(rest.length, 1, `the quick start gives one test command (${rest.join('; ')})`);
  const testCommand = rest[0];
  const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8').split('\n').map((l) => l.trim());
  t.ok(testCommand && ci.includes(testCommand), `.ci/run has the line \`${testCommand}\``);
});
