// App passwords in the shared store (issue 20) with a real redis-server: two replicas'
// stores and the Authenticator each of them runs. One created through A logs in on B at
// once; revoked through A it fails on B at once; last-used data of B's logins reaches the
// store in one batch (none per login); a store that does not answer fails an app password
// closed (unavailable) while a DMS password still goes to DMS; the state file is imported
// once (a revocation sticks across restarts); the CLI manages the store.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis } from '../harness/redis.js';
import { eventually } from '../harness/proxy.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { RedisAppPasswords } from '../../src/state/redis-app-passwords.js';
import { openAppPasswords } from '../../src/state/app-password-store.js';
import { appPasswordCommand } from '../../src/commands/app-password.js';
import { createLogger } from '../../src/observability/logger.js';
import { MAX_APP_PASSWORDS_PER_USER } from '../../src/limits.js';

const TIMEOUT_MS = 200;
const FLUSH_MS = 400;
const redis = await startRedis({ password: 'test-store-password' });
t.teardown(() => redis.stop());
const dir = mkdtempSync(join(tmpdir(), 'o2mp-shared-app-pw-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const passwordFile = join(dir, 'redis-password');
writeFileSync(passwordFile, 'test-store-password\n');
const config = { url: redis.url, password: 'test-store-password', timeoutMs: TIMEOUT_MS };
const env = { SHARED_STATE_URL: redis.url, SHARED_STATE_PASSWORD_FILE: passwordFile };

function replica() {
  const store = RedisAppPasswords.open(config, { flushMs: FLUSH_MS });
  t.teardown(() => store.close());
  const auth = new Authenticator({ check: async () => { throw new Error('no tokens here'); } } as never, undefined, { appPasswords: store });
  const login = (username: string, password: string) => auth.decide({ kind: 'password', mechanism: 'PLAIN', authzid: undefined, username, password });
  return { store, auth, login };
}
const a = replica();
const b = replica();
await eventually(() => a.store.client.status === 'ready' && b.store.client.status === 'ready', 5000, 'both connected');

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await appPasswordCommand(argv, { env, out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

t.test('created through A: logs in on B at once; revoked through A: refused on B at once', async (t) => {
  const { record, secret } = await a.store.create('Alice@Example.test', 'Phone');
  t.match(await b.login('alice@example.test', secret), { outcome: 'token', user: 'alice@example.test', appPassword: record.id }, 'B vouches at its first login');
  t.match(await b.login('alice@example.test', 'her DMS password'), { outcome: 'password' }, 'another password goes to DMS');
  t.equal(await a.store.revoke('alice@example.test', record.id), 1);
  t.match(await b.login('alice@example.test', secret), { outcome: 'password' }, 'B: no longer an app password (DMS refuses it)');
  const stored = await redis.command('HGETALL oauth2-mail-proxy:app-passwords:alice@example.test');
  t.notOk(stored.includes(secret), 'the secret is never stored');
});

t.test('at most MAX_APP_PASSWORDS_PER_USER, counted in the store across replicas', async (t) => {
  const user = 'limit@example.test';
  await Promise.all(Array.from({ length: MAX_APP_PASSWORDS_PER_USER }, (_, i) => (i % 2 ? a : b).store.create(user, `n${i}`)));
  await t.rejects(b.store.create(user, 'one too many'), { code: 'ERR_APP_PASSWORD_LIMIT' });
  t.equal((await a.store.list(user)).length, MAX_APP_PASSWORDS_PER_USER);
  t.equal(await b.store.revoke(user, 'all'), MAX_APP_PASSWORDS_PER_USER);
  t.equal((await a.store.list(user)).length, 0);
});

t.test('last use of logins on B: in the store after the batch interval, not per login; seen by A and the CLI', async (t) => {
  const { record, secret } = await a.store.create('bob@example.test', 'Laptop');
  const d = await b.login('bob@example.test', secret);
  t.match(d, { outcome: 'token' });
  const loggedAt = Date.now();
  b.auth.succeeded(d, '192.0.2.10', 'imap');
  t.equal((await b.store.list('bob@example.test'))[0]?.lastAddress, '192.0.2.10', 'B shows it at once');
  t.notOk((await a.store.list('bob@example.test'))[0]?.lastUsedAt, 'not written per login');
  const seen = await eventually(async () => (await a.store.list('bob@example.test'))[0]?.lastUsedAt, FLUSH_MS * 5, 'the batch');
  t.ok(Date.now() - loggedAt >= FLUSH_MS - 50, 'written with the batch');
  t.ok(seen! >= loggedAt - 1000);
  const listed = await cli('--json', 'list', 'bob@example.test');
  t.equal(listed.code, 0, listed.err);
  const rows = JSON.parse(listed.out) as unknown[];
  t.equal(rows.length, 1, 'bob\'s one app password');
  t.match(rows, [{ id: record.id, lastAddress: '192.0.2.10', lastProtocol: 'imap' }], 'the CLI reads the store');
  t.notMatch(listed.out, /scrypt/, 'no hash in the listing');
});

t.test('the store does not answer: an app password is unavailable (not a wrong password), a DMS password goes to DMS; bounded', async (t) => {
  const { secret } = await a.store.create('carol@example.test', 'Tablet');
  redis.pause();
  t.teardown(() => redis.resume());
  let started = Date.now();
  t.match(await b.login('carol@example.test', secret), { outcome: 'unavailable', reason: /app password not checked/ }, 'fail closed');
  t.ok(Date.now() - started < TIMEOUT_MS + 300, `within the timeout (${Date.now() - started} ms)`);
  started = Date.now();
  t.match(await b.login('carol@example.test', 'her DMS password'), { outcome: 'password', password: 'her DMS password' }, 'DMS decides a DMS password');
  t.ok(Date.now() - started < TIMEOUT_MS + 300, 'within the timeout');
  const r = await cli('list', 'carol@example.test');
  t.equal(r.code, 75, 'the CLI says: try again');
  redis.resume();
  await eventually(async () => (await b.login('carol@example.test', secret).catch(() => null))?.outcome === 'token', 5000, 'B checks it again once the store answers');
});

t.test('the CLI manages the store when SHARED_STATE_URL is set; --file is refused there', async (t) => {
  const made = await cli('--json', 'create', 'dave@example.test', 'Watch');
  t.equal(made.code, 0, made.err);
  const { id, secret } = JSON.parse(made.out) as { id: string; secret: string };
  t.match(await b.login('dave@example.test', secret), { outcome: 'token' }, 'made with the CLI, accepted by a replica');
  t.equal((await cli('--file', join(dir, 'x.json'), 'list', 'dave@example.test')).code, 64, '--file would change a file nobody reads');
  t.equal((await cli('revoke', 'dave@example.test', id)).code, 0);
  t.match(await b.login('dave@example.test', secret), { outcome: 'password' }, 'revoked with the CLI');
  t.equal((await cli('revoke', 'dave@example.test', id)).code, 1, 'nothing left');
});

t.test('APP_PASSWORDS_FILE with SHARED_STATE_URL: the file is imported once; a revocation in the store sticks across restarts', async (t) => {
  const file = join(dir, 'app-passwords.json');
  // A state file written before the store (one instance, the CLI on the file).
  let made = '';
  t.equal(await appPasswordCommand(['--file', file, '--json', 'create', 'erin@example.test', 'Old phone'], { env: {}, out: (s) => { made += s; }, err: () => undefined }), 0);
  const { secret } = JSON.parse(made) as { secret: string };
  const log = createLogger('silent');
  const first = await openAppPasswords(file, config, log);
  t.teardown(() => first?.close());
  await eventually(async () => (await first!.list('erin@example.test').catch(() => [])).length === 1, 5000, 'the import');
  t.match(await b.login('erin@example.test', secret), { outcome: 'token' }, 'the imported password logs in on every replica');
  const [rec] = await b.store.list('erin@example.test');
  t.equal(await a.store.revoke('erin@example.test', rec!.id), 1, 'revoked in the store');
  await first!.close();
  const again = await openAppPasswords(file, config, log);
  t.teardown(() => again?.close());
  await new Promise((r) => setTimeout(r, 500));
  t.same(await again!.list('erin@example.test'), [], 'not imported a second time');
});
