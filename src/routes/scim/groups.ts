import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { serviceContext } from '../../lib/context.ts';
import { getScimGroup, listScimGroups, patchScimGroup } from '../../services/scim/groups.ts';
import { responseBody } from '../response.ts';
import {
  EXAMPLE_SCIM_GROUP_ID,
  SCIM_ACCESS,
  scimOperation,
  scimBody,
  scimContent,
  scimErrorResponses,
  ScimGroupListSchema,
  ScimGroupSchema,
  ScimIdParamsSchema,
  scimJson,
  ScimListQuerySchema,
  ScimPatchSchema,
} from './schema.ts';

const IdParams = ScimIdParamsSchema(EXAMPLE_SCIM_GROUP_ID);

export const listRoute = createRoute({
  method: 'get',
  path: '/scim/v2/Groups',
  operationId: 'scimListGroups',
  summary: 'SCIM: list the roles as groups',
  description:
    'The organization’s roles (all but `owner`) as SCIM Groups, by key, without members; `filter` takes ' +
    '`displayName eq "<role key>"`.' +
    SCIM_ACCESS,
  ...scimOperation(),
  request: { query: ScimListQuerySchema },
  responses: {
    200: { description: 'A SCIM ListResponse.', content: scimContent(ScimGroupListSchema) },
    ...scimErrorResponses(400, 401, 403, 429, 503),
  },
});

export const getRoute = createRoute({
  method: 'get',
  path: '/scim/v2/Groups/{id}',
  operationId: 'scimGetGroup',
  summary: 'SCIM: one role as a group, with its members',
  description: 'A role as a SCIM Group with the members who hold it.' + SCIM_ACCESS,
  ...scimOperation(),
  request: { params: IdParams },
  responses: {
    200: { description: 'The group.', content: scimContent(ScimGroupSchema) },
    ...scimErrorResponses(400, 401, 403, 404, 429, 503),
  },
});

export const patchRoute = createRoute({
  method: 'patch',
  path: '/scim/v2/Groups/{id}',
  operationId: 'scimPatchGroup',
  summary: 'SCIM: give or take a role by group membership',
  description:
    '`add` of `members` gives each that role (a member has one role: the last group added wins); `remove` of ' +
    '`members` (a list, or `members[value eq "<id>"]`) gives those who hold it `staff` back. Each change follows ' +
    'PUT /api/v1/users/{id}: the key must hold the role’s permissions, owners are out of reach, sessions end at a ' +
    'role change. Changing `displayName` is 400 `mutability` (roles are renamed with /api/v1/roles).' +
    SCIM_ACCESS,
  ...scimOperation(),
  request: { params: IdParams, body: scimBody(ScimPatchSchema) },
  responses: {
    204: { description: 'Changed.' },
    ...scimErrorResponses(400, 401, 403, 404, 409, 413, 415, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(listRoute, async (c) => {
    const list = await listScimGroups({ ctx: serviceContext(c), input: c.req.valid('query') });
    return scimJson(c, responseBody(c, ScimGroupListSchema, list));
  });
  app.openapi(getRoute, async (c) => {
    const group = await getScimGroup({ ctx: serviceContext(c), input: c.req.valid('param') });
    return scimJson(c, responseBody(c, ScimGroupSchema, group));
  });
  app.openapi(patchRoute, async (c) => {
    await patchScimGroup({
      ctx: serviceContext(c),
      input: { id: c.req.valid('param').id, operations: c.req.valid('json').Operations },
    });
    return c.body(null, 204);
  });
}
