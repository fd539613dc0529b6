// The SCIM User resource (RFC 7643 §4.1) and how a client's JSON becomes the attributes we
// keep. Attribute names are case-insensitive (RFC 7643 §2.1). Read-only attributes (id,
// meta) and attributes we do not keep (core ones like phoneNumbers, extension schemas such
// as the enterprise User that Entra and Authentik send) are ignored, not refused, so a
// real IdP's full payload is accepted; wrong types are refused with 400 invalidValue.
import { badRequest } from './errors.js';
import type { EmailValue, NameValue, UserInput, UserRecord } from './store/state-file.js';
import { MAX_SCIM_EMAILS, MAX_SCIM_STRING_CHARS } from '../limits.js';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export const NAME_PARTS = ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'] as const;

type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value of `name` in `o`, matched case-insensitively. */
export function field(o: Json, name: string): unknown {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(o)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

export function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw badRequest('invalidValue', `${what} must be a string`);
  if (v.length > MAX_SCIM_STRING_CHARS) throw badRequest('invalidValue', `${what} is longer than ${MAX_SCIM_STRING_CHARS} characters`);
  return v;
}

const optStr = (v: unknown, what: string): string | undefined => (v === undefined || v === null ? undefined : str(v, what));

/** A boolean, or Entra's and Authentik's "True"/"False" strings. */
export function bool(v: unknown, what: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw badRequest('invalidValue', `${what} must be true or false`);
}

export function nameValue(v: unknown): NameValue | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw badRequest('invalidValue', 'name must be an object');
  const out: Record<string, string> = {};
  for (const part of NAME_PARTS) {
    const s = optStr(field(v, part), `name.${part}`);
    if (s !== undefined) out[part] = s;
  }
  return out;
}

export function emailValue(v: unknown): EmailValue {
  if (!isObject(v)) throw badRequest('invalidValue', 'an emails entry must be an object');
  const value = str(field(v, 'value'), 'emails.value');
  const type = optStr(field(v, 'type'), 'emails.type');
  const display = optStr(field(v, 'display'), 'emails.display');
  const primary = field(v, 'primary');
  return {
    value,
    ...(type !== undefined ? { type } : {}),
    ...(primary !== undefined && primary !== null ? { primary: bool(primary, 'emails.primary') } : {}),
    ...(display !== undefined ? { display } : {}),
  };
}

export function emailList(v: unknown): EmailValue[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  if (list.length > MAX_SCIM_EMAILS) throw badRequest('invalidValue', `more than ${MAX_SCIM_EMAILS} emails`);
  return list.map(emailValue);
}

/** The attributes of a POST or PUT body. */
export function userInput(body: unknown): UserInput {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'the request body must be a JSON object');
  const userName = field(body, 'userName');
  if (userName === undefined || userName === null || userName === '') throw badRequest('invalidValue', 'userName is required');
  const active = field(body, 'active');
  const input: UserInput = {
    userName: str(userName, 'userName'),
    externalId: optStr(field(body, 'externalId'), 'externalId'),
    displayName: optStr(field(body, 'displayName'), 'displayName'),
    name: nameValue(field(body, 'name')),
    emails: emailList(field(body, 'emails')),
    active: active === undefined || active === null ? true : bool(active, 'active'),
  };
  return input;
}

/** The JSON a client gets back. */
export function userResource(r: UserRecord, location: string): Json {
  return {
    schemas: [USER_SCHEMA],
    id: r.id,
    ...(r.externalId !== undefined ? { externalId: r.externalId } : {}),
    userName: r.userName,
    ...(r.name && Object.keys(r.name).length ? { name: r.name } : {}),
    ...(r.displayName !== undefined ? { displayName: r.displayName } : {}),
    active: r.active,
    emails: r.emails,
    meta: { resourceType: 'User', created: r.created, lastModified: r.lastModified, location },
  };
}

/** A record's client-settable attributes (the starting point of a PATCH). */
export function inputOf(r: UserRecord): UserInput {
  return { userName: r.userName, externalId: r.externalId, displayName: r.displayName, name: r.name, emails: r.emails, active: r.active };
}
