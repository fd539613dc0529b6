// `doctor` against the test backend and IdP: every check passes with the right master
// password; a wrong one fails with a clear line and a fix, and a non-zero exit code (CLI).
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend } from '../harness/backend.js';
import { startIdp } from '../harness/idp.js';
import { makeCerts } from '../harness/certs.js';
import { runDoctor } from '../../src/doctor/run.js';

const backend = await startBackend();
t.teardown(() => backend.stop());
const idp = await startIdp();
t.teardown(() => idp.stop());
const dir = mkdtempSync(join(tmpdir(), 'omp-doctor-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certs = await makeCerts(dir, { prefix: 'proxy-' });
const [alice] = backend.users as [typeof backend.users[0]];
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const env = (masterPassword: string): Record<string, string> => ({
  PATH: process.env.PATH ?? '',
  SSL_CERT_PATH: certs.certFile, SSL_KEY_PATH: certs.keyFile, SMTP_HOSTNAME: 'proxy.example.test',
  OAUTH2_INTROSPECTION_URL: idp.userinfoUrl,
  DMS_HOST: backend.host, DMS_IMAP_PORT: String(backend.imapPort), DMS_SUBMISSION_PORT: String(backend.submissionPort),
  DMS_TLS_CA_FILE: backend.caFile, DMS_TLS_SERVERNAME: 'localhost',
  DMS_MASTER_USER: backend.master.user, DMS_MASTER_PASSWORD: masterPassword,
});

async function doctor(masterPassword: string, user?: string): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await runDoctor({ env: env(masterPassword), file: {}, user }, (l) => lines.push(l));
  return { code, out: lines.join('\n') };
}

t.test('passes against the test backend', async (t) => {
  const r = await doctor(backend.master.password, alice.email);
  t.equal(r.code, 0, r.out);
  t.match(r.out, /^\[ OK \] configuration/m);
  t.match(r.out, `[ OK ] version: oauth2-mail-proxy ${version}, Node ${process.version}\n`, 'the package and Node versions (issue 15)');
  t.match(r.out, /^\[ OK \] TLS certificate \(default\): .*valid for \d+ more days/m);
  t.match(r.out, /^\[ OK \] IdP reachable: .*HTTP 401/m);
  t.match(r.out, /^\[ OK \] IdP discovery: issuer /m, 'discovery found from the userinfo URL');
  t.match(r.out, /^\[ OK \] DMS IMAP reachable/m);
  t.match(r.out, /^\[ OK \] DMS submission reachable/m);
  t.match(r.out, new RegExp(`^\\[ OK \\] IMAP master login as ${alice.email}`, 'm'));
  t.match(r.out, new RegExp(`^\\[ OK \\] submission master login as ${alice.email}`, 'm'));
  t.match(r.out, backend.flavour === 'debian13' ? /^\[ OK \] DMS Dovecot version: Dovecot 2\.4/m : /^\[ OK \] DMS Dovecot version: Dovecot 2\.3/m, 'the backend\'s Dovecot generation (issue 18)');
  t.notMatch(r.out, /\[FAIL\]/);
  t.notMatch(r.out, backend.master.password, 'the master password is never printed');
});

t.test('a wrong master password fails with a clear line and a fix', async (t) => {
  const wrong = 'not-the-master-password';
  const r = await doctor(wrong, alice.email);
  t.equal(r.code, 1);
  t.match(r.out, new RegExp(`^\\[FAIL\\] IMAP master login as ${alice.email}: .*\\n\\s+fix: check DMS_MASTER_USER/DMS_MASTER_PASSWORD`, 'm'));
  t.match(r.out, /^\[FAIL\] submission master login/m);
  t.notMatch(r.out, wrong, 'the password is never printed');
});

t.test('unreachable backend and IdP: failures with fixes', async (t) => {
  const lines: string[] = [];
  const code = await runDoctor({ env: { ...env(backend.master.password), DMS_IMAP_PORT: '1', OAUTH2_INTROSPECTION_URL: 'http://127.0.0.1:1/userinfo' }, file: {} }, (l) => lines.push(l));
  t.equal(code, 1);
  t.match(lines.join('\n'), /^\[FAIL\] DMS IMAP reachable: cannot connect/m);
  t.match(lines.join('\n'), /^\[FAIL\] IdP reachable: .*\n\s+fix: /m);
});

t.test('invalid settings: the checks that need them are not run, the others are (issue 15)', async (t) => {
  const run = async (env: Record<string, string>, user?: string): Promise<{ code: number; out: string }> => {
    const lines: string[] = [];
    const code = await runDoctor({ env: { PATH: process.env.PATH ?? '', ...env }, file: {}, user }, (l) => lines.push(l));
    return { code, out: lines.join('\n') };
  };
  // A fresh machine with only the DMS OAUTH2_* variables set.
  const fresh = await run({ OAUTH2_INTROSPECTION_URL: idp.userinfoUrl }, alice.email);
  t.equal(fresh.code, 78, fresh.out);
  t.match(fresh.out, /^\[FAIL\] configuration: LISTEN_IMAPS needs SSL_CERT_PATH/m);
  t.match(fresh.out, /^\[FAIL\] configuration: DMS_MASTER_USER: required/m);
  t.match(fresh.out, /^\[ OK \] IdP reachable: .*HTTP 401/m, 'the IdP is still checked');
  t.match(fresh.out, /^\[ OK \] IdP discovery: issuer /m);
  t.match(fresh.out, /^\[SKIP\] TLS certificate: not run: the listeners settings above are invalid/m);
  t.match(fresh.out, /^\[SKIP\] DMS reachable: not run: the backend settings/m);
  t.match(fresh.out, /^\[SKIP\] master login: not run: the backend settings/m);
  t.notMatch(fresh.out, /\[ OK \] configuration/);
  // Listener and token settings broken, DMS settings right: DMS and the master login are checked.
  const dms = await run({ ...env(backend.master.password), SSL_CERT_PATH: '', OAUTH2_INTROSPECTION_MODE: 'local' }, alice.email);
  t.equal(dms.code, 78, dms.out);
  t.match(dms.out, /^\[FAIL\] configuration: OAUTH2_ISSUER: required for mode local/m);
  t.match(dms.out, /^\[SKIP\] IdP reachable: not run: the tokens settings/m);
  t.match(dms.out, /^\[SKIP\] TLS certificate: not run: the listeners settings/m);
  t.match(dms.out, /^\[ OK \] DMS IMAP reachable/m);
  t.match(dms.out, /^\[ OK \] DMS submission reachable/m, 'submission checked: the listener settings are unknown, its default is on');
  t.match(dms.out, new RegExp(`^\\[ OK \\] IMAP master login as ${alice.email}`, 'm'));
  t.notMatch(dms.out, backend.master.password, 'the master password is never printed');
});

t.test('the CLI subcommand exits non-zero on failure', async (t) => {
  const root = new URL('../../', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), 'src/cli.ts', 'doctor', '--user', alice.email], {
    cwd: root, env: env('wrong-password'), stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.equal(code, 1, out);
  t.match(out, /\[FAIL\] IMAP master login as/);
});
