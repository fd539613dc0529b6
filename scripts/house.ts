// The house drawing: every import in src/ as an arrow between rooms (a folder under src/, or a top-level file) on
// floors (bottom = knows least). It prints the room graph and lists what breaks the plan: an import that runs up a
// floor, an import between rooms of one floor that the table does not allow, a cycle between files or between rooms,
// a room the table does not know, and a file over MAX_FILE_LINES. `npm run house` prints it; test/house.test.ts
// runs the same analysis and fails on any finding, so the plan is checked on every test run.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const MAX_FILE_LINES = 300;

/** Bottom floor first. A room is a folder under src/ (`net`) or a top-level file (`cli.ts`). */
export const FLOORS: readonly (readonly string[])[] = [
  ['limits.ts', 'package-info.ts', 'ascii.ts'], // 0: numbers, names and pure text helpers everything may read
  ['config'], // 1: plain data, validated once
  ['observability'], // 2: logger, metrics, events, faults, censor: only what everything below the protocols needs
  ['net'], // 3: sockets, TLS, PROXY, splice; knows nothing of sessions or auth
  ['auth'], // 4: SASL, tokens, policy; never a socket
  ['backend', 'state'], // 5: what lies outside the process: DMS (dial, master login, XCLIENT) and the proxy's own files
  ['session'], // 6: one login flow, registry, admission, revocation, hand-over, drain
  ['imap', 'smtp', 'pop3', 'managesieve'], // 7: the protocols; each speaks only its wire format
  ['scim', 'doctor', 'commands', 'ops', 'portal'], // 8: side doors and tools built on the house
  ['server.ts', 'shutdown.ts', 'cli.ts'], // 9: wiring
];

/**
 * Imports between two rooms of one floor, `from -> to`, that the plan allows. Everything else on one floor stays
 * apart, so a protocol never reaches into another protocol.
 */
export const SAME_FLOOR_ALLOWED: ReadonlyMap<string, string> = new Map([
  // The wiring floor: the entry point parses argv, then starts the server and its signal handling.
  ['cli.ts -> server.ts', 'cli starts the server'],
  ['cli.ts -> shutdown.ts', 'cli installs the signal handlers that drain'],
  ['server.ts -> shutdown.ts', 'the server bounds its close with the drain deadline'],
  // doctor checks the IdP at the very URL the readiness probe calls, so both answer the same question.
  ['doctor -> ops', 'doctor probes the IdP at the readiness probe URL (idpProbeUrl)'],
]);

export interface Import {
  from: string; // file, relative to the repo root
  to: string;
  specifier: string;
}

export interface HouseReport {
  files: string[];
  imports: Import[];
  roomEdges: Map<string, number>; // "a -> b" → count
  upward: Import[];
  sameFloor: Import[]; // between rooms of one floor, not in SAME_FLOOR_ALLOWED
  fileCycles: string[][];
  roomCycles: string[][];
  unknownRooms: string[];
  unresolved: Import[];
  longFiles: { file: string; lines: number }[];
}

export function roomOf(file: string): string {
  return file.split('/')[1]!; // src/<room>/... or src/<file>.ts
}

export function floorOf(room: string): number | undefined {
  const i = FLOORS.findIndex((floor) => floor.includes(room));
  return i < 0 ? undefined : i;
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listTs(full));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** Static imports, `export … from`, `import type`, `import x = require()` and dynamic `import('…')`. */
function specifiersOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

function resolve(fromFile: string, spec: string, known: Set<string>): string | undefined {
  if (!spec.startsWith('.')) return undefined; // a package, not a room
  const base = path.posix.join(path.posix.dirname(fromFile), spec);
  const candidates = [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, `${base}/index.ts`];
  return candidates.find((c) => known.has(c));
}

/** Tarjan's strongly connected components; returns only the ones that are cycles (size > 1 or a self-loop). */
export function cycles(nodes: string[], edges: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || edges.get(v)?.has(v)) found.push(scc.sort());
    }
  };
  for (const n of nodes) if (!idx.has(n)) visit(n);
  return found;
}

/** `repoRoot` holds src/; paths in the report are relative to it, with forward slashes. */
export function analyseHouse(repoRoot: string): HouseReport {
  const srcDir = path.join(repoRoot, 'src');
  const files = listTs(srcDir).map((f) => path.relative(repoRoot, f).split(path.sep).join('/'));
  const known = new Set(files);
  const imports: Import[] = [];
  const unresolved: Import[] = [];
  const longFiles: { file: string; lines: number }[] = [];
  for (const file of files) {
    const text = readFileSync(path.join(repoRoot, file), 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > MAX_FILE_LINES) longFiles.push({ file, lines });
    for (const specifier of specifiersOf(text)) {
      if (!specifier.startsWith('.')) continue;
      const to = resolve(file, specifier, known);
      if (to === undefined) unresolved.push({ from: file, to: specifier, specifier });
      else imports.push({ from: file, to, specifier });
    }
  }
  const roomEdges = new Map<string, number>();
  const fileGraph = new Map<string, Set<string>>();
  const roomGraph = new Map<string, Set<string>>();
  const upward: Import[] = [];
  const sameFloor: Import[] = [];
  for (const imp of imports) {
    if (!fileGraph.has(imp.from)) fileGraph.set(imp.from, new Set());
    fileGraph.get(imp.from)!.add(imp.to);
    const a = roomOf(imp.from);
    const b = roomOf(imp.to);
    if (a === b) continue;
    const key = `${a} -> ${b}`;
    roomEdges.set(key, (roomEdges.get(key) ?? 0) + 1);
    if (!roomGraph.has(a)) roomGraph.set(a, new Set());
    roomGraph.get(a)!.add(b);
    const fa = floorOf(a);
    const fb = floorOf(b);
    if (fa === undefined || fb === undefined) continue; // reported as unknown rooms
    if (fb > fa) upward.push(imp);
    else if (fb === fa && !SAME_FLOOR_ALLOWED.has(key)) sameFloor.push(imp);
  }
  const rooms = [...new Set(files.map(roomOf))].sort();
  return {
    files,
    imports,
    roomEdges,
    upward,
    sameFloor,
    fileCycles: cycles(files, fileGraph),
    roomCycles: cycles(rooms, roomGraph),
    unknownRooms: rooms.filter((r) => floorOf(r) === undefined),
    unresolved,
    longFiles: longFiles.sort((x, y) => y.lines - x.lines),
  };
}

/** Every finding, one line each; empty when the house follows the plan. */
export function findings(r: HouseReport): string[] {
  return [
    ...r.upward.map((i) => `upward import: ${i.from} -> ${i.to}`),
    ...r.sameFloor.map((i) => `same-floor import not in the table: ${i.from} -> ${i.to}`),
    ...r.fileCycles.map((c) => `file cycle: ${c.join(' <-> ')}`),
    ...r.roomCycles.map((c) => `room cycle: ${c.join(' <-> ')}`),
    ...r.unknownRooms.map((room) => `room not in the floor table: ${room}`),
    ...r.unresolved.map((i) => `unresolved import: ${i.from} imports '${i.specifier}'`),
    ...r.longFiles.map((f) => `file over ${MAX_FILE_LINES} lines: ${f.file} (${f.lines})`),
  ];
}

/** The text drawing: floors bottom first, each room with its file count and its arrows down (with import counts). */
export function drawHouse(r: HouseReport): string {
  const out: string[] = [];
  const fileCount = new Map<string, number>();
  for (const f of r.files) fileCount.set(roomOf(f), (fileCount.get(roomOf(f)) ?? 0) + 1);
  const floors = FLOORS.map((rooms, i) => ({ i, rooms: rooms.filter((room) => fileCount.has(room)) }));
  if (r.unknownRooms.length > 0) floors.push({ i: FLOORS.length, rooms: r.unknownRooms });
  for (const { i, rooms } of floors) {
    out.push(`floor ${i === FLOORS.length ? '?' : i}`);
    for (const room of rooms) {
      const arrows = [...r.roomEdges]
        .filter(([k]) => k.startsWith(`${room} -> `))
        .map(([k, n]) => ({ to: k.slice(room.length + 4), n }))
        .sort((x, y) => (floorOf(y.to) ?? 99) - (floorOf(x.to) ?? 99) || x.to.localeCompare(y.to))
        .map(({ to, n }) => `${to} ${n}`);
      const label = `  ${room} (${fileCount.get(room)} file${fileCount.get(room) === 1 ? '' : 's'})`;
      out.push(arrows.length ? `${label.padEnd(30)} -> ${arrows.join(', ')}` : label);
    }
  }
  const total = [...r.roomEdges.values()].reduce((a, b) => a + b, 0);
  out.push('', 'allowed between rooms of one floor:');
  for (const [pair, why] of SAME_FLOOR_ALLOWED) out.push(`  ${pair.padEnd(26)} ${why} (${r.roomEdges.get(pair) ?? 0})`);
  out.push('');
  out.push(`${r.files.length} files, ${r.imports.length} imports, ${total} between rooms`);
  out.push(`upward imports: ${r.upward.length}; same-floor imports not allowed: ${r.sameFloor.length}`);
  out.push(`file cycles: ${r.fileCycles.length}; room cycles: ${r.roomCycles.length}`);
  out.push(`files over ${MAX_FILE_LINES} lines: ${r.longFiles.length}`);
  const found = findings(r);
  if (found.length) out.push('', ...found);
  return out.join('\n');
}

// `npm run house [repo-root]`: print the drawing; exit 1 when the house breaks its plan.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const report = analyseHouse(root);
  process.stdout.write(`${drawHouse(report)}\n`);
  process.exitCode = findings(report).length ? 1 : 0;
}
