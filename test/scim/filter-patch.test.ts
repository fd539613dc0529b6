// The filter parser (RFC 7644 §3.4.2.2, userName eq only) and PATCH semantics (§3.5.2),
// with the request shapes Authentik, Entra ID and Okta send.
import t from 'tap';
import { parseEqFilter, parseUserNameFilter } from '../../src/scim/filter.js';
import { applyPatch } from '../../src/scim/patch.js';
import type { UserInput } from '../../src/scim/store/state-file.js';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const base: UserInput = {
  userName: 'alice@example.test', displayName: 'Alice', externalId: 'ext-1', name: { givenName: 'Alice', familyName: 'Liddell' },
  emails: [{ value: 'alice@example.test', type: 'work', primary: true }], active: true,
};
const patch = (ops: unknown[], current: UserInput = base) => applyPatch(current, { schemas: [PATCH], Operations: ops });

t.test('filter: userName eq, attribute and operator in any case, JSON string value', async (t) => {
  t.equal(parseUserNameFilter('userName eq "alice@example.test"'), 'alice@example.test');
  t.equal(parseUserNameFilter('USERNAME EQ "a\\"b@example.test"'), 'a"b@example.test');
  t.equal(parseUserNameFilter('  username   eq  "x@y.test" '), 'x@y.test');
  t.equal(parseUserNameFilter('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x@y.test"'), 'x@y.test');
  for (const bad of ['userName co "a"', 'userName eq a', 'emails.value eq "a"', 'userName eq "a" and active eq true', 'userName eq true', '', 'userName pr', `userName eq "${'a'.repeat(2000)}"`]) {
    t.throws(() => parseUserNameFilter(bad), { code: 'ERR_SCIM_REQUEST', status: 400, scimType: 'invalidFilter' }, JSON.stringify(bad.slice(0, 40)));
  }
  t.same(parseEqFilter('primary eq true'), { attribute: 'primary', value: true });
  t.same(parseEqFilter('type eq "work"'), { attribute: 'type', value: 'work' });
});

t.test('path-less replace with an object (Authentik, Entra), "False" strings, op in any case', async (t) => {
  t.equal(patch([{ op: 'replace', value: { active: false } }]).active, false);
  t.equal(patch([{ op: 'Replace', value: { active: 'False' } }]).active, false);
  t.equal(patch([{ op: 'replace', path: 'active', value: 'True' }], { ...base, active: false }).active, true);
  const r = patch([{ op: 'Replace', value: { displayName: 'Al', 'name.givenName': 'Al', externalId: 'ext-2' } }]);
  t.equal(r.displayName, 'Al');
  t.same(r.name, { givenName: 'Al', familyName: 'Liddell' });
  t.equal(r.externalId, 'ext-2');
  t.not(r, base, 'a copy');
  t.equal(base.active, true, 'the input is not changed');
});

t.test('simple and complex attributes: add, replace, remove', async (t) => {
  t.equal(patch([{ op: 'remove', path: 'displayName' }]).displayName, undefined);
  t.same(patch([{ op: 'add', path: 'name', value: { middleName: 'P' } }]).name, { givenName: 'Alice', familyName: 'Liddell', middleName: 'P' });
  t.same(patch([{ op: 'replace', path: 'name', value: { formatted: 'A L' } }]).name, { formatted: 'A L' });
  t.same(patch([{ op: 'remove', path: 'name.familyName' }]).name, { givenName: 'Alice' });
  t.equal(patch([{ op: 'replace', path: 'userName', value: 'ALICE@example.test' }]).userName, 'ALICE@example.test');
  t.equal(patch([{ op: 'replace', path: 'urn:ietf:params:scim:schemas:core:2.0:User:displayName', value: 'Q' }]).displayName, 'Q');
});

t.test('emails: whole list, value filters, Entra creating a typed entry', async (t) => {
  t.same(patch([{ op: 'add', path: 'emails', value: [{ value: 'al@example.test' }, { value: 'ALICE@example.test' }] }]).emails.map((e) => e.value),
    ['alice@example.test', 'al@example.test'], 'add appends, without repeats');
  t.same(patch([{ op: 'replace', path: 'emails', value: [{ value: 'x@example.test', primary: 'true' }] }]).emails, [{ value: 'x@example.test', primary: true }]);
  t.same(patch([{ op: 'remove', path: 'emails' }]).emails, []);
  t.same(patch([{ op: 'replace', path: 'emails[type eq "work"].value', value: 'new@example.test' }]).emails,
    [{ value: 'new@example.test', type: 'work', primary: true }]);
  t.same(patch([{ op: 'add', path: 'emails[type eq "home"].value', value: 'home@example.test' }]).emails.map((e) => [e.type, e.value]),
    [['work', 'alice@example.test'], ['home', 'home@example.test']]);
  t.same(patch([{ op: 'remove', path: 'emails[value eq "ALICE@example.test"]' }]).emails, []);
  t.same(patch([{ op: 'replace', path: 'emails[primary eq true].value', value: 'p@example.test' }]).emails[0]?.value, 'p@example.test');
});

t.test('extension and ignored core attributes are accepted and dropped', async (t) => {
  const r = patch([
    { op: 'add', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', value: 'Mail' },
    { op: 'replace', path: 'title', value: 'Boss' },
    { op: 'add', value: { 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { employeeNumber: '7' }, phoneNumbers: [{ value: '1' }] } },
  ]);
  t.same(r, base);
});

t.test('errors: the whole PATCH fails with the right scimType', async (t) => {
  const cases: Array<[unknown, string]> = [
    [{ Operations: [] }, 'invalidValue'],
    [{ Operations: [{ op: 'move', path: 'active', value: true }] }, 'invalidValue'],
    [{ Operations: [{ op: 'replace', path: 'fooBar', value: 1 }] }, 'invalidPath'],
    [{ Operations: [{ op: 'replace', path: 'emails[type co "w"].value', value: 'x' }] }, 'invalidPath'],
    [{ Operations: [{ op: 'replace', path: 'name.nickname', value: 'x' }] }, 'invalidPath'],
    [{ Operations: [{ op: 'replace', path: 'a b c', value: 1 }] }, 'invalidPath'],
    [{ Operations: [{ op: 'remove' }] }, 'noTarget'],
    [{ Operations: [{ op: 'replace', value: 'x' }] }, 'invalidValue'],
    [{ Operations: [{ op: 'replace', path: 'active', value: 'maybe' }] }, 'invalidValue'],
    [{ Operations: [{ op: 'remove', path: 'userName' }] }, 'invalidValue'],
    [{ Operations: [{ op: 'replace', path: 'id', value: 'x' }] }, 'mutability'],
    [{ Operations: [{ op: 'replace', path: 'meta', value: {} }] }, 'mutability'],
    [{ Operations: [{ op: 'replace', path: 'displayName', value: 5 }] }, 'invalidValue'],
    [{ Operations: Array.from({ length: 101 }, () => ({ op: 'replace', path: 'active', value: true })) }, 'tooMany'],
    [[1, 2], 'invalidSyntax'],
  ];
  for (const [body, scimType] of cases) t.throws(() => applyPatch(base, body), { code: 'ERR_SCIM_REQUEST', status: 400, scimType }, JSON.stringify(body).slice(0, 80));
});
