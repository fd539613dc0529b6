// The one filter form the SCIM clients we serve need (RFC 7644 §3.4.2.2): `attr eq value`,
// attribute name and operator case-insensitive, value a JSON string, true, false or null.
// /Users?filter= accepts userName only; PATCH value paths (emails[type eq "work"]) reuse
// the same parser. Anything else is a 400 invalidFilter, never a silently wrong match.
import { badRequest } from './errors.js';
import { MAX_SCIM_FILTER_CHARS } from '../limits.js';

export interface EqFilter { readonly attribute: string; readonly value: string | boolean | null }

const EQ = /^\s*((?:urn:[^\s]+:)?[A-Za-z][\w$-]*(?:\.[A-Za-z][\w$-]*)?)\s+([A-Za-z]+)\s+(.+?)\s*$/s;

export function parseEqFilter(text: string): EqFilter {
  if (text.length > MAX_SCIM_FILTER_CHARS) throw badRequest('invalidFilter', `filter longer than ${MAX_SCIM_FILTER_CHARS} characters`);
  const m = EQ.exec(text);
  if (!m) throw badRequest('invalidFilter', 'filter must be: attribute eq "value"');
  const [, attribute, op, literal] = m as unknown as [string, string, string, string];
  if (op.toLowerCase() !== 'eq') throw badRequest('invalidFilter', `operator ${op} is not supported (only eq)`);
  let value: unknown;
  try {
    value = JSON.parse(literal);
  } catch {
    throw badRequest('invalidFilter', 'filter value must be a JSON string, true, false or null');
  }
  if (typeof value !== 'string' && typeof value !== 'boolean' && value !== null) {
    throw badRequest('invalidFilter', 'filter value must be a JSON string, true, false or null');
  }
  return { attribute, value };
}

/** The userName of a `/Users?filter=userName eq "..."` query. */
export function parseUserNameFilter(text: string): string {
  const f = parseEqFilter(text);
  const attr = f.attribute.toLowerCase().replace(/^urn:ietf:params:scim:schemas:core:2\.0:user:/, '');
  if (attr !== 'username') throw badRequest('invalidFilter', `filtering on ${f.attribute} is not supported (only userName eq)`);
  if (typeof f.value !== 'string') throw badRequest('invalidFilter', 'userName must be compared with a string');
  return f.value;
}
