// A SCIM client for tests: one JSON request with the bearer token, bounded in time; the
// answer's status and parsed body ({} when empty).
export type ScimRequest = (method: string, path: string, body?: unknown) => Promise<{ status: number; json: Record<string, any> }>;

/** `base`: the SCIM root, e.g. http://127.0.0.1:PORT/scim/v2 (a function: the port may change with a restart). */
export function scimClient(base: string | (() => string), token: string, timeoutMs: number): ScimRequest {
  return async (method, path, body) => {
    const res = await fetch(`${typeof base === 'string' ? base : base()}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, any> };
  };
}
