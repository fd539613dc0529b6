// Adversary: `--config` given without a file name. It happens when the name comes from a
// variable that is empty or unset (`command: ["--config", "${PROXY_CONFIG}"]` in compose, a
// systemd unit's `--config=${CONFIG}`, a Helm value left out) or is cut off at the end of a
// command line. The proxy read `--config` as "no file" and started from the environment
// alone: half configured, without the YAML's issuers:, certificates: (SNI) and limits, with
// nothing in the output to say so. The configuration must be all there or the start refused
// (docs/configuration.md); doctor and check-token likewise checked something other than what
// the operator named. Also `doctor --user` without a mailbox, which skipped the master login
// check it was asked for and could exit 0.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliToExit } from '../harness/cli-process.js';

const dir = mkdtempSync(join(tmpdir(), 'adv-config-arg-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// A complete environment: with it, a proxy that ignores the missing file name starts.
const env = {
  TS_NODE_TRANSPILE_ONLY: '1', // a process start per case on a loaded machine: no type check
  ALLOW_PLAINTEXT_AUTH: '1',
  LISTEN_IMAP: '127.0.0.1:0', LISTEN_SUBMISSION: '', LISTEN_IMAPS: '', LISTEN_SUBMISSIONS: '', LISTEN_HTTP: '',
  OAUTH2_INTROSPECTION_URL: 'http://127.0.0.1:1/userinfo',
  DMS_HOST: '127.0.0.1', DMS_IMAP_PORT: '1', DMS_SUBMISSION_PORT: '1', DMS_TIMEOUT_MS: '100', OAUTH2_TIMEOUT_MS: '100',
  DMS_MASTER_USER: 'proxy', DMS_MASTER_PASSWORD: 'pw',
};

for (const args of [['--config'], ['--config='], ['-c'], ['--config', '']]) {
  t.test(`oauth2-mail-proxy ${JSON.stringify(args)}: refused, never started from the environment alone`, async (t) => {
    const r = await runCliToExit(args, env);
    t.not(r.code, null, 'ended by itself (null: it started and ran until killed)');
    t.not(r.code, 0);
    t.match(r.out, /--config/, r.out);
  });
}

t.test('doctor --config (no file name): refused as a usage error', async (t) => {
  const r = await runCliToExit(['doctor', '--config'], env);
  t.equal(r.code, 2, r.out);
});

t.test('doctor --user (no mailbox): refused, not a run that skips the check', async (t) => {
  const r = await runCliToExit(['doctor', '--user'], env);
  t.equal(r.code, 2, r.out);
  t.match(r.out, /--user/);
});

t.test('check-token --config= TOKEN: usage (64)', async (t) => {
  const r = await runCliToExit(['check-token', '--config=', 'some-token'], env);
  t.equal(r.code, 64, r.out);
});
