// Adversary: a PORTAL_URL that is not a URL (an operator writes the host name alone,
// `PORTAL_URL=mail.example.com`, or a typo such as `htps://...`). The key is of kind url, so
// its parser reports it, and the section loader is handed no value for it: loadPortal then
// called .trim() on undefined. The start-up ended in a TypeError instead of the promised list
// of problems: "oauth2-mail-proxy: Cannot read properties of undefined (reading 'trim')",
// exit 1 instead of 78, with every other problem of the configuration hidden. `doctor` ended
// the same way right after its version line, so the operator's own check could not say what
// was wrong either.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { runCliToExit } from '../harness/cli-process.js';

const dir = mkdtempSync(join(tmpdir(), 'adv-portal-url-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const env = {
  OAUTH2_INTROSPECTION_URL: 'https://idp.example/userinfo',
  OAUTH2_ISSUER: 'https://idp.example',
  DMS_MASTER_USER: 'proxy',
  DMS_MASTER_PASSWORD: 'pw',
  ALLOW_PLAINTEXT_AUTH: '1',
  LISTEN_IMAPS: '',
  LISTEN_SUBMISSIONS: '',
  LISTEN_HTTP: '',
  LISTEN_PORTAL: '127.0.0.1:0',
  PORTAL_CLIENT_ID: 'mail-portal',
  APP_PASSWORDS_FILE: join(dir, 'ap.json'),
  // Another problem: it must be listed too, not hidden behind a crash.
  DMS_TIMEOUT_MS: 'ten seconds',
};

for (const bad of ['mail.example.com', 'ftp://mail.example.com', 'https://']) {
  t.test(`PORTAL_URL=${bad}: a listed problem, with the others`, async (t) => {
    let err: unknown;
    try {
      loadConfig({ ...env, PORTAL_URL: bad });
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof ConfigError, `a ConfigError, not ${String(err)}`);
    const problems = err instanceof ConfigError ? err.problems.join('\n') : '';
    t.match(problems, /PORTAL_URL/);
    t.match(problems, /DMS_TIMEOUT_MS/);
  });
}

t.test('the CLI: exit 78 with the problems, never a TypeError', async (t) => {
  const r = await runCliToExit([], { ...env, PORTAL_URL: 'mail.example.com' });
  t.equal(r.code, 78, r.out);
  t.match(r.out, /PORTAL_URL/);
  t.match(r.out, /DMS_TIMEOUT_MS/);
  t.notMatch(r.out, /Cannot read properties/);
});

t.test('doctor: lists it as a configuration problem (78), never a TypeError', async (t) => {
  const r = await runCliToExit(['doctor'], { ...env, PORTAL_URL: 'mail.example.com', DMS_TIMEOUT_MS: '100', OAUTH2_TIMEOUT_MS: '100', DMS_HOST: '127.0.0.1', DMS_IMAP_PORT: '1' });
  t.equal(r.code, 78, r.out);
  t.match(r.out, /\[FAIL\] configuration: PORTAL_URL/);
  t.notMatch(r.out, /Cannot read properties/);
});
