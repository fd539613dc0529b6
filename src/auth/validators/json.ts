// IdP answers are JSON objects; anything else from a 200 is the IdP misbehaving (unavailable).
import type { HttpResponse } from '../http.js';
import type { Claims } from '../token-result.js';

export function jsonObject(res: HttpResponse): Claims | undefined {
  let value: unknown;
  try {
    value = JSON.parse(res.body.toString('utf8'));
  } catch {
    return undefined;
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Claims) : undefined;
}
