// Counts the top-level tests of every test file tap ran (from .tap/test-results/**.tap)
// and prints the closing line CI reads: "N passed, N failed[, N skipped]".
// A test file that crashed before its plan counts as one failure, shown with the note of the
// error that ended it (.tap/crash-notes, written by scripts/tap-tsx/import.mjs) when there is one.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const [dir = '.tap/test-results', status = '0', notes = join(dir, '..', 'crash-notes')] = process.argv.slice(2);
const NOTE_LINES = 12;
let passed = 0, failed = 0, skipped = 0;

function walk(d) {
  let entries = [];
  try { entries = readdirSync(d); } catch { return; }
  for (const e of entries) {
    const p = join(d, e);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.tap')) count(readFileSync(p, 'utf8'), p);
  }
}

function count(text, file) {
  let sawPlan = false, fileFailed = 0;
  for (const line of text.split('\n')) {
    if (/^1\.\.\d+/.test(line)) sawPlan = true;
    const m = /^(not )?ok \d+/.exec(line);
    if (!m) continue;
    if (/# (SKIP|TODO)/i.test(line)) skipped++;
    else if (m[1]) { failed++; fileFailed++; }
    else passed++;
  }
  if (!sawPlan && fileFailed === 0) {
    failed++;
    console.log(`crashed or incomplete: ${file}`);
    const note = join(notes, `${relative(dir, file).replace(/\.tap$/, '')}.txt`);
    if (existsSync(note)) for (const l of readFileSync(note, 'utf8').split('\n').slice(0, NOTE_LINES)) console.log(`  ${l}`);
  }
}

walk(dir);
if (passed + failed === 0 && status !== '0') failed = 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
