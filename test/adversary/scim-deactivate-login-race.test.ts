// Adversary: a user deactivated over SCIM (active=false) while a login of theirs is with
// Dovecot. The proxy decided the login before the deactivation, then Dovecot's answer comes
// back after it: the proxy knows by then that the user is refused (a second login already
// gets NO), yet it answered the first one OK and passed the commands the client had
// pipelined behind it (`b SELECT INBOX`, `c FETCH 1:* BODY[]`) to Dovecot, which served them;
// the "end it when tracked" revocation only says BYE once the session has been quiet for a
// second. A deactivated user read their mailbox after the SCIM client was told 200. The
// session must never start. A TCP relay in front of Dovecot (the fault injected) holds
// Dovecot's answers to the proxy's login until the deactivation has been taken in.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawClient } from '../harness/raw-imap.js';
import { startBackendAndIdp } from '../harness/stack.js';
import { startProxy } from '../harness/proxy.js';
import { scimClient } from '../harness/scim-client.js';
import { startHoldingRelay } from '../harness/holding-relay.js';

const SCIM_TOKEN = randomBytes(24).toString('hex');
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const dmsDir = mkdtempSync(join(tmpdir(), 'omp-scim-race-'));
t.teardown(() => rmSync(dmsDir, { recursive: true, force: true }));
const { backend, idp } = await startBackendAndIdp(t);
const relay = await startHoldingRelay(backend.imapPort);
t.teardown(() => relay.stop());
const proxy = await startProxy({
  backend, userinfoUrl: idp.userinfoUrl,
  env: { LISTEN_SCIM: '127.0.0.1:0', SCIM_TOKEN, DMS_CONFIG_DIR: dmsDir, DMS_TLS: 'none', DMS_IMAP_PORT: String(relay.port), ALLOW_PLAINTEXT_AUTH: '1' },
});
t.teardown(() => proxy.stop());
const ca = readFileSync(proxy.certs.caFile, 'utf8');
const alice = backend.users[0]!;
const scim = scimClient(`http://127.0.0.1:${proxy.server.port('scim')}/scim/v2`, SCIM_TOKEN, 10_000);

t.test('deactivated while the login is with Dovecot: nothing pipelined behind it is served', async (t) => {
  const made = await scim('POST', '/Users', { schemas: [USER], userName: alice.email, active: true });
  t.equal(made.status, 201, 'SCIM user created');
  const id = made.json.id as string;

  const decided = relay.arm();
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  c.write(`a LOGIN "${alice.email}" "${alice.password}"\r\nb SELECT INBOX\r\nc FETCH 1:* (BODY.PEEK[HEADER])\r\n`);
  await Promise.race([decided, new Promise((_, reject) => setTimeout(() => reject(new Error('no backend login within 10 s')), 10_000))]);

  const off = await scim('PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] });
  t.equal(off.status, 200, 'SCIM deactivation answered');
  const again = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  t.teardown(() => again.close());
  await again.line();
  t.match((await again.command(`x LOGIN "${alice.email}" "${alice.password}"`, 10_000)).tagged, /^x NO/, 'the proxy has taken the deactivation in');

  relay.release();
  const a = await c.until('a', 10_000);
  const b = await c.until('b', 10_000).catch((err: Error) => ({ untagged: [], tagged: `(none: ${err.message})` }));
  t.notMatch(b.tagged, /^b OK/, 'the deactivated user\'s SELECT is not served');
  t.notOk([...a.untagged, ...b.untagged].some((l) => /^\* \d+ EXISTS/.test(l)), 'nothing of the mailbox is shown');
  t.not(a.tagged.startsWith('a OK'), true, `the login that finished after the deactivation is refused (${a.tagged})`);
});
