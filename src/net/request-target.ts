// The request-target of an HTTP/1.1 request (RFC 9112 §3.2), read without `new URL()`.
// `new URL('//a:99999', base)` throws, and `new URL('//host/metrics', base)` takes `host` as
// an authority and serves /metrics: an origin-form target is a path, whatever it starts
// with. Pure: a string in, the path and query out, or null for a target that is malformed
// (the caller answers 400). Used by the SCIM and the ops listeners.

export interface RequestTarget {
  /** Still percent-encoded; decode segments with decodeSegment(). */
  readonly path: string;
  readonly query: URLSearchParams;
}

// RFC 3986 §3.3 pchar (unreserved, sub-delims, ":", "@", pct-encoded) and "/"; the query
// also allows "?" (§3.4). A "%" must start a two-digit hex escape.
const PCT = '%[0-9A-Fa-f]{2}';
const PATH = new RegExp(`^(?:/(?:[A-Za-z0-9\\-._~!$&'()*+,;=:@]|${PCT})*)+$`);
const QUERY = new RegExp(`^(?:[A-Za-z0-9\\-._~!$&'()*+,;=:@/?]|${PCT})*$`);
// RFC 9112 §3.2.2: a server must accept the absolute-form too; its authority is ignored.
const ABSOLUTE = /^https?:\/\/[^/?#]*/i;

/** The path and query of an origin-form or absolute-form target; null when malformed. */
export function parseRequestTarget(raw: string | undefined): RequestTarget | null {
  if (!raw) return null;
  let rest = raw;
  const absolute = ABSOLUTE.exec(rest);
  if (absolute) rest = rest.slice(absolute[0].length) || '/';
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? '' : rest.slice(q + 1);
  if (!PATH.test(path) || !QUERY.test(query)) return null;
  return { path, query: new URLSearchParams(query) };
}

/** One path segment, percent-decoded; null when its escapes are not UTF-8. */
export function decodeSegment(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null; // URIError: "%C3%28" and the like (the syntax was checked already)
  }
}

/** A request-target as it may appear in a log line: bounded, never thrown on. */
export const targetForLog = (raw: string | undefined): string => (raw ?? '').slice(0, 200);
