// Adversary: the proxy is configured with `--config FILE` (a YAML file, as
// config/oauth2-mail-proxy.example.yaml shows), and that file sets APP_PASSWORDS_FILE and,
// with several replicas, SHARED_STATE_URL. Every other command takes `--config` (the proxy,
// doctor, check-token); `app-password` did not: `app-password --config FILE revoke USER --all`
// took "--config" for the command and answered "APP_PASSWORDS_FILE is not set (or pass
// --file FILE)". An admin off-boarding a user in a hurry does what it says and passes --file:
// the CLI then revokes in the state file and prints "revoked N", exit 0, while the proxy
// (SHARED_STATE_URL set in the YAML) checks the passwords in the shared store, where they
// keep working. The revocation of a stolen app password silently does nothing.
//
// The fix gives app-password the same `--config FILE` (environment over file, as everywhere),
// so it works where the proxy looks; --file next to a SHARED_STATE_URL from the YAML is then
// refused as it is for one from the environment.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis } from '../harness/redis.js';
import { RedisAppPasswords } from '../../src/state/redis-app-passwords.js';
import { appPasswordCommand } from '../../src/commands/app-password.js';

const redis = await startRedis();
t.teardown(() => redis.stop());
const dir = mkdtempSync(join(tmpdir(), 'adv-apw-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await appPasswordCommand(argv, { env: {}, out: (s) => { out += s; }, err: (s) => { out += s; } });
  return { code, out };
}

t.test('APP_PASSWORDS_FILE from --config: create and list work on that file', async (t) => {
  const file = join(dir, 'only-file.json');
  const yaml = join(dir, 'only-file.yaml');
  writeFileSync(yaml, `APP_PASSWORDS_FILE: ${file}\n`);
  const created = await cli('--config', yaml, 'create', 'alice@example.test', 'phone');
  t.equal(created.code, 0, created.out);
  t.match(readFileSync(file, 'utf8'), /alice@example\.test/, 'written to the file the proxy reads');
  const listed = await cli(`--config=${yaml}`, 'list', 'alice@example.test');
  t.equal(listed.code, 0, listed.out);
  t.match(listed.out, /"phone"/);
});

t.test('SHARED_STATE_URL from --config: revoke reaches the store the proxy checks', async (t) => {
  const store = RedisAppPasswords.open({ url: redis.url, timeoutMs: 1000 });
  t.teardown(() => store.close());
  await store.create('bob@example.test', 'stolen laptop');
  t.equal((await store.list('bob@example.test')).length, 1);
  const yaml = join(dir, 'shared.yaml');
  writeFileSync(yaml, `APP_PASSWORDS_FILE: ${join(dir, 'imported.json')}\nSHARED_STATE_URL: ${redis.url}\n`);

  const revoked = await cli('--config', yaml, 'revoke', 'bob@example.test', '--all');
  t.equal(revoked.code, 0, revoked.out);
  t.match(revoked.out, /revoked 1/);
  t.equal((await store.list('bob@example.test')).length, 0, 'gone from the store: the proxy refuses it');

  // The way round it that the old message suggested: the file is not where the proxy looks.
  const viaFile = await cli('--config', yaml, '--file', join(dir, 'imported.json'), 'list', 'bob@example.test');
  t.equal(viaFile.code, 64, viaFile.out);
  t.match(viaFile.out, /SHARED_STATE_URL/);
});

t.test('--config naming a file that does not exist: a configuration error (78)', async (t) => {
  const r = await cli('--config', join(dir, 'missing.yaml'), 'list', 'alice@example.test');
  t.equal(r.code, 78, r.out);
});

t.test('--config without a file name: usage (64), never the environment alone', async (t) => {
  const r = await cli('list', 'alice@example.test', '--config');
  t.equal(r.code, 64, r.out);
});
