// The SCIM listener over HTTP, driven the way Authentik drives it (create, list with filter,
// PUT, PATCH, deactivate, delete), with the DMS files checked after every step; plus the
// refusals: wrong token, malformed JSON, duplicate userName, oversize bodies.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DisabledUsers } from '../../src/auth/disabled-users.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { startScim } from '../../src/scim/server.js';
import { DmsUserStore } from '../../src/scim/store/user-store.js';

const TOKEN = 'scim-test-token-0123456789abcdef';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const FOREIGN = 'admin@example.test|{SHA512-CRYPT}$6$abc$xyz\n';

const dir = mkdtempSync(join(tmpdir(), 'omp-scim-http-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'postfix-accounts.cf'), FOREIGN);
const logLines: string[] = [];
const log = createLogger('debug', new Writable({ write(c: Buffer, _e, cb) { logLines.push(c.toString()); cb(); } }));
const disabled = new DisabledUsers();
const store = await DmsUserStore.open({ dir, removeDeactivatedAfterMs: 0, disabled, log });
const listener = await startScim({ listen: { host: '127.0.0.1', port: 0 }, token: TOKEN, store, log });
t.teardown(() => listener.close());
const base = `http://127.0.0.1:${listener.address().port}/scim/v2`;

const accounts = () => readFileSync(join(dir, 'postfix-accounts.cf'), 'utf8');
const virtual = () => { try { return readFileSync(join(dir, 'postfix-virtual.cf'), 'utf8'); } catch { return ''; } };

async function scim(method: string, path: string, body?: unknown, opts: { token?: string | null; raw?: string; type?: string } = {}) {
  const headers: Record<string, string> = { accept: 'application/scim+json' };
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const payload = opts.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  if (payload !== undefined) headers['content-type'] = opts.type ?? 'application/scim+json';
  const res = await fetch(`${base}${path}`, { method, headers, body: payload, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: (text ? JSON.parse(text) : undefined) as Record<string, any> };
}

// What Authentik's SCIM provider sends for a user (with the userName = email mapping).
const authentikUser = (email: string, extra: Record<string, unknown> = {}) => ({
  schemas: [USER, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
  userName: email,
  name: { formatted: 'Carol Example', givenName: 'Carol', familyName: 'Example' },
  displayName: 'Carol Example',
  active: true,
  emails: [{ value: email, type: 'other', primary: true }],
  externalId: 'ak-1234',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Mail' },
  ...extra,
});

t.test('an Authentik client flow: create, filter, PUT, PATCH, deactivate, delete', async (t) => {
  // Authentik looks the user up first.
  let r = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "carol@example.test"')}`);
  t.equal(r.status, 200);
  t.match(r.json, { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 0, Resources: [] });

  r = await scim('POST', '/Users', authentikUser('carol@example.test'));
  t.equal(r.status, 201);
  t.match(r.headers.get('content-type'), /^application\/scim\+json/);
  const id = r.json.id as string;
  t.match(id, /^[0-9a-f-]{36}$/);
  t.equal(r.headers.get('location'), `${base}/Users/${id}`);
  t.match(r.json, { schemas: [USER], userName: 'carol@example.test', active: true, externalId: 'ak-1234', displayName: 'Carol Example', meta: { resourceType: 'User', location: `${base}/Users/${id}` } });
  t.notOk('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User' in r.json, 'extension accepted, not kept');
  t.match(accounts(), new RegExp(`^${FOREIGN.replace(/[$|{}]/g, '\\$&')}carol@example\\.test\\|\\{SHA512-CRYPT\\}\\$6\\$[^\\n]+\\n$`));
  t.equal(virtual(), '');

  r = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "CAROL@example.test"')}`);
  t.match(r.json, { totalResults: 1, itemsPerPage: 1, startIndex: 1, Resources: [{ id, userName: 'carol@example.test' }] });
  r = await scim('GET', `/Users/${id}`);
  t.equal(r.status, 200);
  t.equal(r.json.id, id);

  // Authentik updates with PUT: a new alias.
  r = await scim('PUT', `/Users/${id}`, authentikUser('carol@example.test', { emails: [{ value: 'carol@example.test', primary: true }, { value: 'c.example@example.test', type: 'work' }] }));
  t.equal(r.status, 200);
  t.equal(r.json.id, id, 'stable id');
  t.equal(virtual(), 'c.example@example.test carol@example.test\n');

  // PATCH (Entra/Okta style, and Authentik's newer clients).
  r = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'Carol E.' }, { op: 'add', path: 'emails', value: [{ value: 'ce@example.test' }] }] });
  t.equal(r.status, 200);
  t.equal(r.json.displayName, 'Carol E.');
  t.equal(virtual(), 'c.example@example.test carol@example.test\nce@example.test carol@example.test\n');

  // Deactivate: path-less value object with a "False" string.
  const before = accounts();
  r = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH], Operations: [{ op: 'Replace', value: { active: 'False' } }] });
  t.equal(r.status, 200);
  t.equal(r.json.active, false);
  t.equal(accounts(), before, 'the account stays (default: keep the mailbox)');
  t.ok(disabled.reason('carol@example.test'), 'logins refused at once');
  // and back, the Authentik way (PUT active: true), then off again with PUT.
  r = await scim('PUT', `/Users/${id}`, authentikUser('carol@example.test', { active: true }));
  t.equal(disabled.reason('carol@example.test'), undefined);
  r = await scim('PUT', `/Users/${id}`, authentikUser('carol@example.test', { active: false }));
  t.equal(r.json.active, false);
  t.equal(virtual(), '', 'the PUT without the extra emails dropped the aliases');

  r = await scim('DELETE', `/Users/${id}`);
  t.equal(r.status, 204);
  t.equal(accounts(), FOREIGN, 'back to the foreign line alone, byte for byte');
  t.equal(disabled.reason('carol@example.test'), 'deleted by the SCIM client', 'its account line gone: refused until created again');
  r = await scim('GET', `/Users/${id}`);
  t.equal(r.status, 404);
  t.match(r.json, { schemas: [ERROR], status: '404' });
  r = await scim('DELETE', `/Users/${id}`);
  t.equal(r.status, 404);
});

t.test('concurrent creates over HTTP', async (t) => {
  const names = Array.from({ length: 25 }, (_, i) => `p${i}@example.test`);
  const results = await Promise.all([...names, 'p3@example.test'].map((n) => scim('POST', '/Users', { schemas: [USER], userName: n })));
  t.equal(results.filter((r) => r.status === 201).length, 25);
  t.same(results.filter((r) => r.status !== 201).map((r) => [r.status, r.json.scimType]), [[409, 'uniqueness']]);
  const lines = accounts().split('\n').filter(Boolean);
  t.equal(lines.length, 26);
  t.equal(new Set(lines.map((l) => l.split('|')[0])).size, 26, 'no duplicates, nothing lost');
  const list = await scim('GET', '/Users?startIndex=11&count=10');
  t.match(list.json, { totalResults: 25, startIndex: 11, itemsPerPage: 10 });
  const page = list.json.Resources.map((u: { userName: string }) => u.userName) as string[];
  t.equal(new Set(page).size, 10, 'a page of 10 distinct users');
  t.same(page, results.slice(10, 20).map((r) => r.json.userName), 'oldest first: the 11th to 20th created');
  for (const r of results.filter((x) => x.status === 201)) t.equal((await scim('DELETE', `/Users/${r.json.id}`)).status, 204);
  t.equal(accounts(), FOREIGN);
});

t.test('refusals: bearer token, malformed JSON, unknown attributes, duplicates, bad filters, sizes', async (t) => {
  for (const token of [null, 'wrong-token-wrong-token-wrong', '']) {
    const r = await scim('GET', '/Users', undefined, { token });
    t.equal(r.status, 401, `token ${JSON.stringify(token)}`);
    t.equal(r.headers.get('www-authenticate'), 'Bearer realm="scim"');
    t.match(r.json, { schemas: [ERROR], status: '401' });
  }
  t.equal((await scim('POST', '/Users', { userName: 'x@example.test' }, { token: 'nope' })).status, 401, 'no write without the token');
  t.notMatch(accounts(), /x@example/);

  let r = await scim('POST', '/Users', undefined, { raw: '{"userName": "a@example.test",' });
  t.match([r.status, r.json], [400, { schemas: [ERROR], status: '400', scimType: 'invalidSyntax' }]);
  r = await scim('POST', '/Users', undefined, { raw: '' });
  t.match([r.status, r.json.scimType], [400, 'invalidSyntax']);
  r = await scim('POST', '/Users', ['not', 'an', 'object']);
  t.match([r.status, r.json.scimType], [400, 'invalidSyntax']);
  r = await scim('POST', '/Users', { userName: 'a@example.test' }, { type: 'text/plain' });
  t.equal(r.status, 415);

  r = await scim('POST', '/Users', { schemas: [USER], userName: 'u@example.test', fooBar: 1, nickName: 'u', id: 'chosen-by-client', meta: { created: 'x' } });
  t.equal(r.status, 201, 'unknown and read-only attributes are ignored on create');
  t.notOk('fooBar' in r.json);
  t.not(r.json.id, 'chosen-by-client');
  const id = r.json.id as string;
  r = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'fooBar', value: 1 }] });
  t.match([r.status, r.json.scimType], [400, 'invalidPath'], 'PATCH on an unknown attribute');
  r = await scim('POST', '/Users', { schemas: [USER], userName: 'U@example.test' });
  t.match([r.status, r.json], [409, { scimType: 'uniqueness', status: '409' }], 'duplicate userName');
  r = await scim('PUT', `/Users/${id}`, { schemas: [USER], userName: 'renamed@example.test' });
  t.match([r.status, r.json.scimType], [400, 'mutability']);
  r = await scim('POST', '/Users', { schemas: [USER], userName: 'just-a-name' });
  t.match([r.status, r.json.scimType], [400, 'invalidValue']);
  r = await scim('POST', '/Users', { schemas: [USER] });
  t.match([r.status, r.json.scimType], [400, 'invalidValue']);
  r = await scim('POST', '/Users', { schemas: [USER], userName: 'v@example.test', active: 'perhaps' });
  t.match([r.status, r.json.scimType], [400, 'invalidValue']);

  r = await scim('GET', `/Users?filter=${encodeURIComponent('emails.value eq "u@example.test"')}`);
  t.match([r.status, r.json.scimType], [400, 'invalidFilter']);
  r = await scim('GET', `/Users?filter=${encodeURIComponent('userName sw "u"')}`);
  t.match([r.status, r.json.scimType], [400, 'invalidFilter']);
  r = await scim('GET', '/Users?count=lots');
  t.equal(r.status, 400);

  // 64 KiB: at the cap still parsed, one byte over refused before parsing.
  const pad = (n: number) => {
    const skeleton = JSON.stringify({ schemas: [USER], userName: 'big@example.test', padding: '' });
    return JSON.stringify({ schemas: [USER], userName: 'big@example.test', padding: 'x'.repeat(n - skeleton.length) });
  };
  r = await scim('POST', '/Users', undefined, { raw: pad(64 * 1024) });
  t.equal(r.status, 201, 'exactly 64 KiB');
  t.equal((await scim('DELETE', `/Users/${r.json.id}`)).status, 204);
  r = await scim('POST', '/Users', undefined, { raw: pad(64 * 1024 + 1) });
  t.equal(r.status, 413, 'one byte over');

  t.equal((await scim('GET', '/Groups')).status, 404);
  t.equal((await scim('DELETE', '/Users')).status, 405);
  t.equal((await scim('GET', '/Users/x/y')).status, 404);
  t.equal((await fetch(`${base.replace('/scim/v2', '')}/other`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 404);
  await scim('DELETE', `/Users/${id}`);
  t.equal(accounts(), FOREIGN);
});

t.test('discovery endpoints', async (t) => {
  let r = await scim('GET', '/ServiceProviderConfig');
  t.match(r.json, { patch: { supported: true }, bulk: { supported: false }, filter: { supported: true, maxResults: 200 }, authenticationSchemes: [{ type: 'oauthbearertoken' }] });
  r = await scim('GET', '/ResourceTypes');
  t.match(r.json, { totalResults: 1, Resources: [{ id: 'User', endpoint: '/Users', schema: USER }] });
  r = await scim('GET', '/ResourceTypes/User');
  t.equal(r.json.id, 'User');
  r = await scim('GET', '/Schemas');
  t.match(r.json, { totalResults: 1, Resources: [{ id: USER }] });
  r = await scim('GET', `/Schemas/${USER}`);
  t.ok(r.json.attributes.some((a: { name: string; required: boolean }) => a.name === 'userName' && a.required));
  t.equal((await scim('GET', '/Schemas/urn:nope')).status, 404);
});

t.test('the token never reaches the log', async (t) => {
  const text = logLines.join('');
  t.notMatch(text, TOKEN);
  t.match(text, /"event":"scim-auth-failed"/);
  t.match(text, /"event":"scim-change"/);
});

t.test('config: LISTEN_SCIM needs a token and a writable DMS_CONFIG_DIR', async (t) => {
  const minimal = {
    LISTEN_IMAP: '127.0.0.1:0', LISTEN_IMAPS: '', LISTEN_SUBMISSION: '', LISTEN_SUBMISSIONS: '', ALLOW_PLAINTEXT_AUTH: '1',
    OAUTH2_INTROSPECTION_URL: 'http://127.0.0.1:1/userinfo', DMS_MASTER_USER: 'm', DMS_MASTER_PASSWORD: 'p',
  };
  t.equal(loadConfig(minimal).scim, null, 'off by default');
  const on = loadConfig({ ...minimal, LISTEN_SCIM: '127.0.0.1:0', SCIM_TOKEN: TOKEN, DMS_CONFIG_DIR: dir, SCIM_DEACTIVATED_REMOVE_AFTER_DAYS: '2' });
  t.match(on.scim, { listen: { host: '127.0.0.1', port: 0 }, token: TOKEN, dmsConfigDir: dir, removeDeactivatedAfterMs: 2 * 86_400_000 });
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  t.equal(loadConfig({ ...minimal, LISTEN_SCIM: ':0', SCIM_TOKEN_FILE: tokenFile, DMS_CONFIG_DIR: dir }).scim?.token, TOKEN);
  t.throws(() => loadConfig({ ...minimal, LISTEN_SCIM: ':0', DMS_CONFIG_DIR: dir }), /SCIM_TOKEN or SCIM_TOKEN_FILE: required/);
  t.throws(() => loadConfig({ ...minimal, LISTEN_SCIM: ':0', SCIM_TOKEN: 'short', DMS_CONFIG_DIR: dir }), /SCIM_TOKEN: must be at least 16/);
  t.throws(() => loadConfig({ ...minimal, LISTEN_SCIM: ':0', SCIM_TOKEN: TOKEN, DMS_CONFIG_DIR: join(dir, 'missing') }), /DMS_CONFIG_DIR: .* does not exist/);
  t.throws(() => loadConfig({ ...minimal, LISTEN_SCIM: ':0', SCIM_TOKEN: TOKEN, DMS_CONFIG_DIR: tokenFile }), /is not a directory/);
  const err = t.throws(() => loadConfig({ ...minimal, LISTEN_SCIM: ':0', SCIM_TOKEN: `${TOKEN} x`, DMS_CONFIG_DIR: dir })) as unknown as Error;
  t.notMatch(err.message, TOKEN, 'the token is not echoed in config errors');
});
