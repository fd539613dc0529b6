// PATCH /Users/{id} (RFC 7644 §3.5.2): add, replace and remove on the attributes we keep,
// applied in order to a copy; any invalid operation fails the whole request. Real-client
// quirks accepted: op names in any case ("Replace": Entra), path-less operations whose
// value is an object of attribute paths ({"active": false}: Authentik, Entra, Okta),
// "True"/"False" strings for booleans, and `emails[type eq "work"].value` creating the
// entry when there is none yet (Entra).
import { badRequest } from './errors.js';
import { parseEqFilter, type EqFilter } from './filter.js';
import type { EmailValue, NameValue, UserInput } from './store/state-file.js';
import { NAME_PARTS, USER_SCHEMA, bool, emailList, emailValue, field, isObject, nameValue, str } from './user-resource.js';
import { asciiLower } from '../auth/address.js';
import { MAX_SCIM_EMAILS, MAX_SCIM_PATCH_OPERATIONS } from '../limits.js';

type Op = 'add' | 'replace' | 'remove';
type Draft = { -readonly [K in keyof UserInput]: UserInput[K] };

// Core User attributes we accept and drop (RFC 7643 §4.1): a PATCH on them is a no-op.
const IGNORED = new Set(['nickname', 'profileurl', 'title', 'usertype', 'preferredlanguage', 'locale', 'timezone', 'password',
  'phonenumbers', 'ims', 'photos', 'addresses', 'groups', 'entitlements', 'roles', 'x509certificates']);
const READ_ONLY = new Set(['id', 'meta', 'schemas']);

interface Path { readonly attr: string; readonly filter?: EqFilter; readonly sub?: string }

export function applyPatch(current: UserInput, body: unknown): UserInput {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'the request body must be a JSON object');
  const ops = field(body, 'Operations');
  if (!Array.isArray(ops) || ops.length === 0) throw badRequest('invalidValue', 'Operations must be a non-empty array');
  if (ops.length > MAX_SCIM_PATCH_OPERATIONS) throw badRequest('tooMany', `more than ${MAX_SCIM_PATCH_OPERATIONS} operations`);
  const draft: Draft = { ...current, emails: [...current.emails] };
  for (const o of ops) {
    if (!isObject(o)) throw badRequest('invalidSyntax', 'an operation must be an object');
    const opText = field(o, 'op');
    const op = typeof opText === 'string' ? opText.toLowerCase() : '';
    if (op !== 'add' && op !== 'replace' && op !== 'remove') throw badRequest('invalidValue', `unknown op ${JSON.stringify(opText)}`);
    const path = field(o, 'path');
    const value = field(o, 'value');
    if (path === undefined || path === null || path === '') {
      if (op === 'remove') throw badRequest('noTarget', 'remove needs a path');
      if (!isObject(value)) throw badRequest('invalidValue', `${op} without a path needs an object value`);
      for (const [k, v] of Object.entries(value)) applyAt(draft, op, k, v);
    } else {
      applyAt(draft, op, str(path, 'path'), value);
    }
  }
  // Each add's list is held to the cap on its own (emailList); what they add up to is held here.
  if (draft.emails.length > MAX_SCIM_EMAILS) throw badRequest('invalidValue', `more than ${MAX_SCIM_EMAILS} emails`);
  return draft;
}

function applyAt(d: Draft, op: Op, pathText: string, value: unknown): void {
  // A schema-qualified key: the core schema's own attributes, or an extension (dropped).
  if (/^urn:/i.test(pathText)) {
    const core = `${USER_SCHEMA}`.toLowerCase();
    if (pathText.toLowerCase() === core) {
      if (op === 'remove' || !isObject(value)) throw badRequest('invalidValue', `${op} on ${USER_SCHEMA} needs an object value`);
      for (const [k, v] of Object.entries(value)) applyAt(d, op, k, v);
      return;
    }
    if (!pathText.toLowerCase().startsWith(`${core}:`)) return; // extension attribute: not kept
    pathText = pathText.slice(core.length + 1);
  }
  const p = parsePath(pathText);
  const attr = p.attr.toLowerCase();
  if (READ_ONLY.has(attr)) throw badRequest('mutability', `${p.attr} is read-only`);
  if (IGNORED.has(attr)) return;
  if (op !== 'remove' && value === undefined) throw badRequest('invalidValue', `${op} ${pathText} needs a value`);
  switch (attr) {
    case 'username':
      if (op === 'remove' || value === null) throw badRequest('invalidValue', 'userName is required');
      d.userName = str(value, 'userName');
      return;
    case 'active':
      if (op === 'remove' || value === null) throw badRequest('invalidValue', 'active cannot be removed');
      d.active = bool(value, 'active');
      return;
    case 'externalid':
    case 'displayname': {
      const key = attr === 'externalid' ? 'externalId' : 'displayName';
      d[key] = op === 'remove' || value === null ? undefined : str(value, key);
      return;
    }
    case 'name':
      d.name = patchName(d.name, op, p.sub, value);
      return;
    case 'emails':
      d.emails = patchEmails(d.emails, op, p, value);
      return;
    default:
      throw badRequest('invalidPath', `unknown attribute ${p.attr}`);
  }
}

function parsePath(text: string): Path {
  const m = /^([A-Za-z][\w$-]*)(?:\[(.+)\])?(?:\.([A-Za-z][\w$-]*))?$/s.exec(text.trim());
  if (!m) throw badRequest('invalidPath', `cannot parse path ${JSON.stringify(text)}`);
  const filter = m[2] !== undefined ? parseValueFilter(m[2]) : undefined;
  return { attr: m[1]!, ...(filter ? { filter } : {}), ...(m[3] !== undefined ? { sub: m[3] } : {}) };
}

function parseValueFilter(text: string): EqFilter {
  try {
    return parseEqFilter(text);
  } catch {
    throw badRequest('invalidPath', `unsupported value filter [${text}] (only attribute eq value)`);
  }
}

function patchName(name: NameValue | undefined, op: Op, sub: string | undefined, value: unknown): NameValue | undefined {
  if (sub === undefined) {
    if (op === 'remove' || value === null) return undefined;
    const v = nameValue(value);
    return op === 'add' ? { ...name, ...v } : v;
  }
  const part = NAME_PARTS.find((n) => n.toLowerCase() === sub.toLowerCase());
  if (!part) throw badRequest('invalidPath', `unknown attribute name.${sub}`);
  const next: Record<string, string> = { ...name };
  if (op === 'remove' || value === null) delete next[part];
  else next[part] = str(value, `name.${part}`);
  return next;
}

const matches = (e: EmailValue, f: EqFilter): boolean => {
  const v = field(e as unknown as Record<string, unknown>, f.attribute);
  if (typeof v === 'string' && typeof f.value === 'string') return f.attribute.toLowerCase() === 'value' ? asciiLower(v) === asciiLower(f.value) : v === f.value;
  return (v ?? null) === f.value || (f.attribute.toLowerCase() === 'primary' && f.value === false && v === undefined);
};

function patchEmails(emails: readonly EmailValue[], op: Op, p: Path, value: unknown): EmailValue[] {
  if (!p.filter) {
    if (p.sub !== undefined) {
      // emails.value without a filter: the primary entry, else the only one.
      const target = emails.find((e) => e.primary) ?? (emails.length <= 1 ? emails[0] : undefined);
      if (!target && emails.length > 1) throw badRequest('invalidPath', 'emails.<sub-attribute> needs a filter when there are several emails');
      return patchEmails(emails, op, { ...p, filter: target ? { attribute: 'value', value: target.value } : { attribute: 'primary', value: true } }, value);
    }
    if (op === 'remove' || value === null) return [];
    const added = emailList(value);
    if (op === 'replace') return added;
    const have = new Set(emails.map((e) => asciiLower(e.value)));
    return [...emails, ...added.filter((e) => !have.has(asciiLower(e.value)))];
  }
  const f = p.filter;
  const hit = emails.filter((e) => matches(e, f));
  if (op === 'remove') {
    if (p.sub === undefined) return emails.filter((e) => !matches(e, f));
    if (p.sub.toLowerCase() === 'value') return emails.filter((e) => !matches(e, f));
    return emails.map((e) => (matches(e, f) ? withSub(e, p.sub!, undefined) : e));
  }
  if (hit.length === 0) {
    // Entra adds `emails[type eq "work"].value` to a user without a work email.
    const seed: Record<string, unknown> = { [f.attribute]: f.value };
    const created = p.sub === undefined ? emailValue({ ...seed, ...(isObject(value) ? value : {}) }) : emailValue({ ...seed, value: '', [p.sub]: value });
    if (created.value === '') throw badRequest('noTarget', 'no emails entry matches the filter');
    return [...emails, created];
  }
  return emails.map((e) => {
    if (!matches(e, f)) return e;
    if (p.sub === undefined) return emailValue(op === 'add' ? { ...e, ...(isObject(value) ? value : {}) } : value);
    return withSub(e, p.sub, value);
  });
}

function withSub(e: EmailValue, sub: string, value: unknown): EmailValue {
  const key = ['value', 'type', 'primary', 'display'].find((k) => k === sub.toLowerCase());
  if (!key) throw badRequest('invalidPath', `unknown attribute emails.${sub}`);
  const next: Record<string, unknown> = { ...e };
  if (value === undefined || value === null) delete next[key];
  else next[key] = value;
  if (key === 'value' && next.value === undefined) throw badRequest('invalidValue', 'emails.value is required');
  return emailValue(next);
}
