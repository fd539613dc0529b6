// userNames and emails DMS cannot hold as accounts (issue 16, item 9), through the real
// SCIM HTTP API onto a real DMS config dir. '#x@...' was accepted and written as a line DMS
// reads as a comment: the account never existed, every PUT appended another line, DELETE
// left them all. Each such value is a 400 invalidValue now, and no file changes.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import { createLogger } from '../../src/observability/logger.js';
import { startScim } from '../../src/scim/server.js';
import { DmsUserStore } from '../../src/scim/store/user-store.js';
import { scimClient } from '../harness/scim-client.js';

const TOKEN = 'scim-test-token-0123456789abcdef';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const FOREIGN = 'admin@example.test|{SHA512-CRYPT}$6$abc$xyz\n';
const dir = mkdtempSync(join(tmpdir(), 'omp-scim-names-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'postfix-accounts.cf'), FOREIGN);
const log = createLogger('silent');
const store = await DmsUserStore.open({ dir, removeDeactivatedAfterMs: 0, disabled: new DisabledUsers(), log });
const listener = await startScim({ listen: { host: '127.0.0.1', port: 0 }, token: TOKEN, store, log });
t.teardown(() => listener.close());
const base = `http://127.0.0.1:${listener.address().port}/scim/v2`;
const accounts = () => readFileSync(join(dir, 'postfix-accounts.cf'), 'latin1');
const virtual = () => { try { return readFileSync(join(dir, 'postfix-virtual.cf'), 'latin1'); } catch { return ''; } };

const scim = scimClient(base, TOKEN, 5000);

// Each is refused, with why DMS cannot hold it.
const REFUSED: Array<[string, string]> = [
  ['#x@example.test', 'a comment line in postfix-accounts.cf'],
  ['x#y@example.test', 'outside Dovecot auth_username_chars'],
  ['x|y@example.test', 'the postfix-accounts.cf field separator'],
  ['x:y@example.test', "the userdb field separator"],
  ['x y@example.test', 'blank: separator in postfix-virtual.cf and vmailbox'],
  [' x@example.test', 'leading blank (nothing is trimmed)'],
  ['x@example.test\n', 'trailing newline'],
  ['x\ty@example.test', 'tab'],
  ['x\u0000y@example.test', 'NUL'],
  ['x\u007fy@example.test', 'DEL'],
  ['x/y@example.test', 'a path separator in /var/mail/<domain>/<user>'],
  ['x+y@example.test', "Postfix's recipient_delimiter in DMS"],
  ["o'brien@example.test", 'outside auth_username_chars'],
  ['-x@example.test', 'an option to setup email'],
  ['.x@example.test', 'leading dot'],
  ['x.@example.test', 'trailing dot'],
  ['x..y@example.test', 'two dots'],
  ['jürgen@example.test', 'non-ASCII (no SMTPUTF8)'],
  ['\u212Aarl@example.test', 'KELVIN SIGN, lower-cases to an ASCII k'],
  ['x@example.tést', 'non-ASCII domain (IDNs go as xn--)'],
  ['x@localhost', 'a single-label domain'],
  ['x', 'no domain'],
  ['x@', 'empty domain'],
  ['@example.test', 'empty local part'],
  ['x@y@example.test', 'two @'],
  ['x@-example.test', 'label starting with -'],
  ['x@example..test', 'empty label'],
  ['x@192.168.0.1', 'numeric top-level label'],
  ['x@[127.0.0.1]', 'address literal'],
  [`${'a'.repeat(65)}@example.test`, 'local part over 64'],
  [`x@${'a'.repeat(64)}.test`, 'label over 63'],
  [`x@${'abcdefghi.'.repeat(25)}test`, 'address over 254'],
];

t.test('POST: every value DMS cannot hold is a 400 invalidValue and nothing is written', async (t) => {
  for (const [userName, why] of REFUSED) {
    const r = await scim('POST', '/Users', { schemas: [USER], userName });
    t.match([r.status, r.json.scimType], [400, 'invalidValue'], `${JSON.stringify(userName)}: ${why}`);
    const e = await scim('POST', '/Users', { schemas: [USER], userName: 'ok@example.test', emails: [{ value: userName }] });
    t.match([e.status, e.json.scimType], [400, 'invalidValue'], `as an email: ${JSON.stringify(userName)}`);
  }
  t.equal(accounts(), FOREIGN, 'postfix-accounts.cf untouched');
  t.equal(virtual(), '', 'postfix-virtual.cf untouched');
  t.same((await scim('GET', '/Users')).json.totalResults, 0, 'no user stored');
});

t.test("'#' cannot sneak in through PUT or PATCH, and DELETE leaves no line behind", async (t) => {
  const r = await scim('POST', '/Users', { schemas: [USER], userName: 'Dana.Lee_2@Example.TEST' });
  t.equal(r.status, 201, 'letters, digits, . _ and upper case (canonicalised) are fine');
  const id = r.json.id as string;
  const after = accounts();
  t.match(after, /^dana\.lee_2@example\.test\|\{SHA512-CRYPT\}/m);
  const put = await scim('PUT', `/Users/${id}`, { schemas: [USER], userName: 'dana.lee_2@example.test', emails: [{ value: '#dana@example.test' }] });
  t.match([put.status, put.json.scimType], [400, 'invalidValue'], 'PUT with a # email');
  const patch = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'emails', value: [{ value: 'd#l@example.test' }] }] });
  t.match([patch.status, patch.json.scimType], [400, 'invalidValue'], 'PATCH adding a # email');
  const rename = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'userName', value: '#dana.lee_2@example.test' }] });
  t.match([rename.status, rename.json.scimType], [400, 'invalidValue'], 'PATCH userName to a # name');
  t.equal(accounts(), after, 'no line added');
  t.equal(virtual(), '', 'no alias line');
  t.equal((await scim('DELETE', `/Users/${id}`)).status, 204);
  t.equal(accounts(), FOREIGN, 'DELETE removed the one line it wrote, nothing left behind');
});
