// `oauth2-mail-proxy --version` / `-V` (issue 15): the version in package.json, found at run
// time from src/ (checkout), dist/src/ (build) and node_modules/oauth2-mail-proxy/dist/src/.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { meetsNodeEngine } from '../../src/package-info.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkgText = readFileSync(join(root, 'package.json'), 'utf8');
const pkg = JSON.parse(pkgText) as { version: string };
const run = promisify(execFile);

t.test('--version and -V print the package version and exit 0', async (t) => {
  for (const flag of ['--version', '-V']) {
    const r = await run(process.execPath, ['--import', import.meta.resolve('tsx'), 'src/cli.ts', flag], { cwd: root, timeout: 60_000 });
    t.equal(r.stdout, `oauth2-mail-proxy ${pkg.version}\n`, flag);
    t.equal(r.stderr, '');
  }
});

t.test('found from a build and from an installed package, past foreign package.json files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'omp-version-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The module as tsc emits it (transpiled only: its behaviour, not its types, is under test).
  const js = ts.transpileModule(readFileSync(join(root, 'src/package-info.ts'), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const put = (path: string, text: string): string => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
    return join(dir, path);
  };
  const layouts = {
    build: 'checkout/dist/src/package-info.js',
    installed: 'app/node_modules/oauth2-mail-proxy/dist/src/package-info.js',
  };
  put('checkout/package.json', pkgText);
  put('app/package.json', JSON.stringify({ name: 'some-app', version: '9.9.9', type: 'module' }));
  put('app/node_modules/oauth2-mail-proxy/package.json', pkgText);
  put('app/node_modules/oauth2-mail-proxy/dist/package.json', JSON.stringify({ type: 'module' }));
  for (const [what, path] of Object.entries(layouts)) {
    const mod = (await import(pathToFileURL(put(path, js)).href)) as typeof import('../../src/package-info.js');
    t.same(mod.readPackageInfo(), { version: pkg.version, nodeEngine: '>=20.12' }, what);
  }
  const lost = put('elsewhere/src/package-info.js', js);
  put('elsewhere/package.json', JSON.stringify({ name: 'some-app', version: '9.9.9', type: 'module' }));
  const mod = (await import(pathToFileURL(lost).href)) as typeof import('../../src/package-info.js');
  t.equal(mod.readPackageInfo(), null, 'another package\'s version is never reported as ours');
});

t.test('the Node version is judged against engines.node', async (t) => {
  t.ok(meetsNodeEngine('v20.12.0', '>=20.12'));
  t.ok(meetsNodeEngine('v22.1.0', '>=20.12'));
  t.notOk(meetsNodeEngine('v20.11.1', '>=20.12'));
  t.notOk(meetsNodeEngine('v18.20.0', '>=20.12'));
  t.ok(meetsNodeEngine('v20.0.0', '^20 || ^22'), 'a form it cannot judge is not held against the machine');
});
