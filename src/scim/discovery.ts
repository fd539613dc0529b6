// The discovery endpoints (RFC 7644 §4, RFC 7643 §5-7): what this service provider
// supports, its one resource type (User) and the User attributes it keeps.
import { LIST_SCHEMA, USER_SCHEMA } from './user-resource.js';
import { MAX_SCIM_RESULTS } from '../limits.js';

type Json = Record<string, unknown>;

const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

export function serviceProviderConfig(base: string): Json {
  return {
    schemas: [SPC_SCHEMA],
    documentationUri: 'https://github.com/docker-mailserver/docker-mailserver',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_SCIM_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [{
      type: 'oauthbearertoken', name: 'Bearer token', primary: true,
      description: 'Authorization: Bearer <SCIM_TOKEN>, the static token configured in the proxy',
    }],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}

export function userResourceType(base: string): Json {
  return {
    schemas: [RESOURCE_TYPE_SCHEMA], id: 'User', name: 'User', endpoint: '/Users',
    description: 'A DMS mailbox account (postfix-accounts.cf); emails other than userName are aliases (postfix-virtual.cf)',
    schema: USER_SCHEMA, schemaExtensions: [],
    meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/User` },
  };
}

const attr = (name: string, extra: Json = {}): Json => ({
  name, type: 'string', multiValued: false, required: false, caseExact: false,
  mutability: 'readWrite', returned: 'default', uniqueness: 'none', ...extra,
});

export function userSchema(base: string): Json {
  return {
    schemas: [SCHEMA_SCHEMA], id: USER_SCHEMA, name: 'User', description: 'User account',
    attributes: [
      attr('userName', { required: true, uniqueness: 'server', description: 'The mailbox address (user@domain); cannot change once created' }),
      attr('name', {
        type: 'complex',
        subAttributes: ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'].map((n) => attr(n)),
      }),
      attr('displayName'),
      attr('active', { type: 'boolean', description: 'false refuses logins through the proxy at once' }),
      attr('emails', {
        type: 'complex', multiValued: true, description: 'Addresses other than userName become aliases of the mailbox',
        subAttributes: [attr('value'), attr('display'), attr('type'), attr('primary', { type: 'boolean' })],
      }),
      attr('externalId', { caseExact: true }),
    ],
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${USER_SCHEMA}` },
  };
}

export function listResponse(resources: Json[], totalResults = resources.length, startIndex = 1): Json {
  return { schemas: [LIST_SCHEMA], totalResults, startIndex, itemsPerPage: resources.length, Resources: resources };
}
