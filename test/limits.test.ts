// src/limits.ts is the one place for fixed limits and timers that are not config keys
// (issue 17). It imports nothing from src/ (any room may use it), and no file in src/
// hides a timer as a bare number.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as limits from '../src/limits.js';

const SRC = new URL('../src/', import.meta.url).pathname;
const files = (readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => join(SRC, f));

t.test('limits.ts imports nothing', async (t) => {
  t.notMatch(readFileSync(join(SRC, 'limits.ts'), 'utf8'), /^\s*import\b/m);
});

t.test('every limit is a positive whole number', async (t) => {
  for (const [name, value] of Object.entries(limits)) t.ok(Number.isSafeInteger(value) && (value as number) > 0, name);
});

t.test('no timer in src/ is a bare number (setTimeout, setInterval, socket timeouts)', async (t) => {
  const bare = /\b(?:setTimeout|setInterval)\([^;]*?,\s*\d[\d_]*\s*\)|\b(?:keepAliveTimeout|headersTimeout|requestTimeout|bodyTimeout)\s*[:=]\s*\d/;
  const found = files.filter((f) => !f.endsWith('limits.ts')).flatMap((f) =>
    readFileSync(f, 'utf8').split('\n').map((line, i) => (bare.test(line) ? `${f.slice(SRC.length)}:${i + 1}: ${line.trim()}` : '')).filter(Boolean));
  t.same(found, []);
});
