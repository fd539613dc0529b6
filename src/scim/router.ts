// Maps a SCIM request (method, path below /scim/v2, query, parsed body) to a response.
// No sockets here: src/scim/server.ts reads and writes HTTP, this decides.
import { decodeSegment } from '../net/request-target.js';
import { ScimError, badRequest } from './errors.js';
import { listResponse, serviceProviderConfig, userResourceType, userSchema } from './discovery.js';
import { parseUserNameFilter } from './filter.js';
import { applyPatch } from './patch.js';
import { StoreError, type DmsUserStore } from './store/user-store.js';
import { USER_SCHEMA, inputOf, userInput, userResource } from './user-resource.js';
import { asciiLower, asciiTrim } from '../auth/address.js';
import { MAX_SCIM_RESULTS } from '../limits.js';

export interface ScimRequest {
  readonly method: string;
  /** The path below the base path, e.g. /Users/<id>. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
  /** Absolute base URL (…/scim/v2) for meta.location and Location. */
  readonly base: string;
}

export interface ScimResponse { readonly status: number; readonly body?: Record<string, unknown>; readonly location?: string }

const STORE_ERRORS: Record<StoreError['code'], (m: string) => ScimError> = {
  ERR_SCIM_CONFLICT: (m) => new ScimError(409, m, 'uniqueness'),
  ERR_SCIM_NOT_FOUND: (m) => new ScimError(404, m),
  ERR_SCIM_MUTABILITY: (m) => new ScimError(400, m, 'mutability'),
  ERR_SCIM_INVALID_VALUE: (m) => new ScimError(400, m, 'invalidValue'),
};

export async function route(store: DmsUserStore, req: ScimRequest): Promise<ScimResponse> {
  try {
    return await dispatch(store, req);
  } catch (err) {
    if (err instanceof StoreError) throw STORE_ERRORS[err.code](err.message);
    throw err;
  }
}

async function dispatch(store: DmsUserStore, req: ScimRequest): Promise<ScimResponse> {
  const parts: string[] = [];
  for (const raw of req.path.split('/').filter(Boolean)) {
    const part = decodeSegment(raw);
    if (part === null) throw badRequest('invalidSyntax', `malformed percent-encoding in ${req.path}`);
    parts.push(part);
  }
  const [collection, id, more] = parts;
  const allow = (...methods: string[]) => {
    if (!methods.includes(req.method)) throw new ScimError(405, `${req.method} is not allowed on ${req.path}`);
  };
  if (more !== undefined) throw new ScimError(404, `no resource at ${req.path}`);
  switch (collection) {
    case 'ServiceProviderConfig':
      allow('GET');
      if (id !== undefined) break;
      return { status: 200, body: serviceProviderConfig(req.base) };
    case 'ResourceTypes':
      allow('GET');
      if (id === undefined) return { status: 200, body: listResponse([userResourceType(req.base)]) };
      if (id === 'User') return { status: 200, body: userResourceType(req.base) };
      break;
    case 'Schemas':
      allow('GET');
      if (id === undefined) return { status: 200, body: listResponse([userSchema(req.base)]) };
      if (id === USER_SCHEMA) return { status: 200, body: userSchema(req.base) };
      break;
    case 'Users':
      return id === undefined ? users(store, req) : user(store, req, id);
  }
  throw new ScimError(404, `no resource at ${req.path}`);
}

async function users(store: DmsUserStore, req: ScimRequest): Promise<ScimResponse> {
  if (req.method === 'POST') {
    const r = await store.create(userInput(req.body));
    const location = `${req.base}/Users/${r.id}`;
    return { status: 201, body: userResource(r, location), location };
  }
  if (req.method !== 'GET') throw new ScimError(405, `${req.method} is not allowed on /Users`);
  const filter = req.query.get('filter');
  let all = store.list();
  if (filter !== null) {
    // userName is caseExact false (RFC 7643 §4.1.1), compared in ASCII case only as Dovecot does.
    const wanted = asciiLower(asciiTrim(parseUserNameFilter(filter)));
    all = all.filter((r) => r.mailbox === wanted || asciiLower(r.userName) === wanted);
  }
  // RFC 7644 §3.4.2.4: 1-based startIndex (below 1 means 1), count below 0 means 0.
  const startIndex = Math.max(1, intParam(req.query, 'startIndex') ?? 1);
  const count = Math.min(MAX_SCIM_RESULTS, Math.max(0, intParam(req.query, 'count') ?? MAX_SCIM_RESULTS));
  const page = all.slice(startIndex - 1, startIndex - 1 + count).map((r) => userResource(r, `${req.base}/Users/${r.id}`));
  return { status: 200, body: listResponse(page, all.length, startIndex) };
}

async function user(store: DmsUserStore, req: ScimRequest, id: string): Promise<ScimResponse> {
  const location = `${req.base}/Users/${id}`;
  switch (req.method) {
    case 'GET': {
      const r = store.get(id);
      if (!r) throw new ScimError(404, `no user ${id}`);
      return { status: 200, body: userResource(r, location), location };
    }
    case 'PUT': {
      const input = userInput(req.body);
      const r = await store.update(id, () => input);
      return { status: 200, body: userResource(r, location), location };
    }
    case 'PATCH': {
      const r = await store.update(id, (current) => applyPatch(inputOf(current), req.body));
      return { status: 200, body: userResource(r, location), location };
    }
    case 'DELETE':
      await store.delete(id);
      return { status: 204 };
    default:
      throw new ScimError(405, `${req.method} is not allowed on /Users/{id}`);
  }
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (!/^-?\d{1,9}$/.test(v.trim())) throw badRequest('invalidValue', `${name} must be an integer`);
  return Number(v);
}
