// An app password revoked while a login with it is on its way to Dovecot. The proxy decides
// (the app password matches), then logs in to DMS with the master account; a revocation that
// lands between the two used to find no session to end (the login was not spliced yet), and
// the session that came up a moment later was tracked as if nothing had happened: a revoked
// app password kept a live session for as long as the client liked. A TCP relay in front of
// Dovecot (the fault injected) holds Dovecot's answers to the master login until the test has
// revoked the app password and seen the proxy take the revocation in.
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawClient } from '../harness/raw-imap.js';
import { startBackendAndIdp } from '../harness/stack.js';
import { startProxy } from '../harness/proxy.js';
import { startHoldingRelay } from '../harness/holding-relay.js';
import { appPasswordCommand } from '../../src/commands/app-password.js';

const file = join(mkdtempSync(join(tmpdir(), 'omp-app-pw-race-')), 'app-passwords.json');
const { backend } = await startBackendAndIdp(t);
const relay = await startHoldingRelay(backend.imapPort);
t.teardown(() => relay.stop());
const proxy = await startProxy({ backend, userinfoUrl: 'http://127.0.0.1:1/unused', env: { APP_PASSWORDS_FILE: file, DMS_TLS: 'none', DMS_IMAP_PORT: String(relay.port) } });
t.teardown(() => proxy.stop());
const ca = readFileSync(proxy.certs.caFile, 'utf8');
const alice = backend.users[0]!;

async function cli(...argv: string[]): Promise<string> {
  let out = '';
  const code = await appPasswordCommand(['--file', file, '--json', ...argv], { env: {}, out: (s) => { out += s; }, err: () => undefined });
  t.equal(code, 0, `app-password ${argv[0]}`);
  return out;
}

async function login(password: string): Promise<RawClient> {
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  c.write(`a LOGIN "${alice.email}" "${password}"\r\n`);
  return c;
}

t.test('revoked while its login is with Dovecot: the session that comes up is ended at once', async (t) => {
  const made = JSON.parse(await cli('create', alice.email, 'Phone')) as { id: string; secret: string };
  const decided = relay.arm();
  const phone = await login(made.secret);
  await Promise.race([decided, new Promise((_, reject) => setTimeout(() => reject(new Error('no master login within 10 s')), 10_000))]);

  await cli('revoke', alice.email, made.id);
  // A second login with it reads the file again: the proxy has taken the revocation in.
  const again = await login(made.secret);
  t.match((await again.until('a', 10_000)).tagged, /^a NO/, 'the revoked app password no longer logs in');

  relay.release();
  t.match((await phone.until('a', 10_000)).tagged, /^a OK/, 'the login decided before the revocation completes');
  phone.write('b IDLE\r\n');
  const line = await phone.lineAfterKeepalives(3000).catch((err: Error) => `(no line: ${err.message})`);
  const next = /^\+ /.test(line) ? await phone.lineAfterKeepalives(3000).catch((err: Error) => `(no line: ${err.message})`) : line;
  t.match(next, /^\* BYE App password revoked\./, 'the session of the revoked app password is ended');
  t.ok(await phone.waitClosed(7000), 'and closed');
});
