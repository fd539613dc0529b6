// The house plan (scripts/house.ts): rooms on floors, imports only downwards, no cycle, no
// file over MAX_FILE_LINES. A failure names each offending import, cycle, room or file.
import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { analyseHouse, drawHouse, findings, MAX_FILE_LINES } from '../scripts/house.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

t.test('src/ follows the house plan', async (t) => {
  const r = analyseHouse(repo);
  t.ok(r.files.length > 100 && r.imports.length > 300, `read ${r.files.length} files, ${r.imports.length} imports`);
  t.same(r.upward.map((i) => `${i.from} -> ${i.to}`), [], 'no import runs up a floor');
  t.same(r.sameFloor.map((i) => `${i.from} -> ${i.to}`), [], 'rooms of one floor stay apart unless the table allows it');
  t.same(r.fileCycles, [], 'no cycle between files');
  t.same(r.roomCycles, [], 'no cycle between rooms');
  t.same(r.unknownRooms, [], 'every room is in the floor table');
  t.same(r.unresolved.map((i) => `${i.from}: ${i.specifier}`), [], 'every relative import resolves to a src file');
  t.same(r.longFiles, [], `no src file over ${MAX_FILE_LINES} lines`);
});

// The analysis itself, on a small made-up house, so a silent analyser cannot pass the test above.
t.test('the analysis finds each kind of breach', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'house-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const file = (rel: string, text: string): void => {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  };
  file('src/limits.ts', 'export const A = 1;\n');
  file('src/net/a.ts', "import { B } from './b.js';\nexport const A = B;\n"); // net a <-> b
  file('src/net/b.ts', "import type { A } from './a.js';\nexport const B = 2; export type T = typeof A;\n");
  file('src/net/up.ts', "export const U = () => import('../auth/x.js');\n"); // dynamic, upward
  file('src/auth/x.ts', "import { A } from '../limits.js';\nexport * from '../net/a.js';\nexport const X = A;\n");
  file('src/imap/i.ts', "import '../smtp/s.js';\n"); // same floor
  file('src/smtp/s.ts', 'export {};\n');
  file('src/attic/old.ts', 'export {};\n' + '//\n'.repeat(MAX_FILE_LINES)); // unknown room, long
  const r = analyseHouse(root);
  t.same(r.upward.map((i) => `${i.from} -> ${i.to}`), ['src/net/up.ts -> src/auth/x.ts'], 'a dynamic import counts');
  t.same(r.sameFloor.map((i) => `${i.from} -> ${i.to}`), ['src/imap/i.ts -> src/smtp/s.ts']);
  t.same(r.fileCycles, [['src/net/a.ts', 'src/net/b.ts']], 'a type-only import closes a cycle too');
  t.same(r.roomCycles, [['auth', 'net']]);
  t.same(r.unknownRooms, ['attic']);
  t.same(r.longFiles, [{ file: 'src/attic/old.ts', lines: MAX_FILE_LINES + 1 }]);
  t.equal(r.roomEdges.get('auth -> net'), 1);
  t.equal(r.roomEdges.get('auth -> limits.ts'), 1);
  t.equal(findings(r).length, 6, 'one finding per breach');
  t.match(drawHouse(r), /floor 0\n {2}limits\.ts \(1 file\)/);
});
