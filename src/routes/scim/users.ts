import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { serviceContext } from '../../lib/context.ts';
import {
  createScimUser,
  deleteScimUser,
  getScimUser,
  listScimUsers,
  patchScimUser,
  replaceScimUser,
} from '../../services/scim/users.ts';
import { responseBody } from '../response.ts';
import {
  EXAMPLE_SCIM_USER_ID,
  SCIM_ACCESS,
  scimOperation,
  scimBody,
  scimContent,
  scimErrorResponses,
  ScimIdParamsSchema,
  scimJson,
  ScimListQuerySchema,
  ScimPatchSchema,
  ScimUserInputSchema,
  ScimUserListSchema,
  ScimUserSchema,
} from './schema.ts';

const IdParams = ScimIdParamsSchema(EXAMPLE_SCIM_USER_ID);

export const listRoute = createRoute({
  method: 'get',
  path: '/scim/v2/Users',
  operationId: 'scimListUsers',
  summary: 'SCIM: list or find members',
  description:
    'The members as SCIM Users, in membership order, paged by `startIndex` (1-based) and `count` (at most 100). ' +
    '`filter` takes one comparison: `userName eq "..."`, `externalId eq "..."` or `emails.value eq "..."` ' +
    '(also `emails[type eq "work"].value`); anything else is 400 `invalidFilter`.' +
    SCIM_ACCESS,
  ...scimOperation(),
  request: { query: ScimListQuerySchema },
  responses: {
    200: { description: 'A SCIM ListResponse.', content: scimContent(ScimUserListSchema) },
    ...scimErrorResponses(400, 401, 403, 429, 503),
  },
});

export const createRoute_ = createRoute({
  method: 'post',
  path: '/scim/v2/Users',
  operationId: 'scimCreateUser',
  summary: 'SCIM: provision a member',
  description:
    'Adds the person (an account is created for a new address) as a member with the role `staff`, `invited` until ' +
    'their first sign-in through the organization’s SSO, or disabled when `active` is false; no invitation email ' +
    'is sent. `userName` (or a work email) is the address. A member with this address or `externalId` already ' +
    'answers 409 `uniqueness`. Counts against the plan’s member seats (403 `plan_limit`). Audited as ' +
    '`membership.provisioned`.' +
    SCIM_ACCESS,
  ...scimOperation(),
  request: { body: scimBody(ScimUserInputSchema) },
  responses: {
    201: { description: 'The new member.', content: scimContent(ScimUserSchema) },
    ...scimErrorResponses(400, 401, 403, 409, 413, 415, 429, 503),
  },
});

export const getRoute = createRoute({
  method: 'get',
  path: '/scim/v2/Users/{id}',
  operationId: 'scimGetUser',
  summary: 'SCIM: one member',
  description: 'One member as a SCIM User; anyone who is not a member here is 404.' + SCIM_ACCESS,
  ...scimOperation(),
  request: { params: IdParams },
  responses: {
    200: { description: 'The member.', content: scimContent(ScimUserSchema) },
    ...scimErrorResponses(400, 401, 403, 404, 429, 503),
  },
});

export const replaceRoute = createRoute({
  method: 'put',
  path: '/scim/v2/Users/{id}',
  operationId: 'scimReplaceUser',
  summary: 'SCIM: replace a member',
  description:
    'Sets the name, `active` (false disables the member and ends their sessions at once; true enables them) and ' +
    '`externalId`. The address cannot change (400 `mutability`). The members API’s rules hold: no member whose ' +
    'role holds a permission the key lacks, no owner, never the last active owner (403, 409).' +
    SCIM_ACCESS,
  ...scimOperation(),
  request: { params: IdParams, body: scimBody(ScimUserInputSchema) },
  responses: {
    200: { description: 'The member after the change.', content: scimContent(ScimUserSchema) },
    ...scimErrorResponses(400, 401, 403, 404, 409, 413, 415, 429, 503),
  },
});

export const patchRoute = createRoute({
  method: 'patch',
  path: '/scim/v2/Users/{id}',
  operationId: 'scimPatchUser',
  summary: 'SCIM: change a member',
  description:
    'A PatchOp: `add`/`replace` of `active` (boolean, or Entra ID’s "True"/"False"), `externalId`, `displayName`, ' +
    '`name.givenName`, `name.familyName`, `name.formatted`, with a `path` or as an object value; `remove` of ' +
    '`externalId`. Deactivation ends the member’s sessions at once. The address cannot change (400 `mutability`); ' +
    'attributes this API does not keep are ignored. Rules as for PUT.' +
    SCIM_ACCESS,
  ...scimOperation(),
  request: { params: IdParams, body: scimBody(ScimPatchSchema) },
  responses: {
    200: { description: 'The member after the change.', content: scimContent(ScimUserSchema) },
    ...scimErrorResponses(400, 401, 403, 404, 409, 413, 415, 429, 503),
  },
});

export const deleteRoute = createRoute({
  method: 'delete',
  path: '/scim/v2/Users/{id}',
  operationId: 'scimDeleteUser',
  summary: 'SCIM: deprovision a member',
  description:
    'Removes the membership and ends the member’s sessions here at once; the person’s account stays (it may belong ' +
    'to other organizations). Rules as for PUT. Audited as `membership.removed`.' +
    SCIM_ACCESS,
  ...scimOperation(),
  request: { params: IdParams },
  responses: {
    204: { description: 'Deprovisioned.' },
    ...scimErrorResponses(400, 401, 403, 404, 409, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(listRoute, async (c) => {
    const list = await listScimUsers({ ctx: serviceContext(c), input: c.req.valid('query') });
    return scimJson(c, responseBody(c, ScimUserListSchema, list));
  });
  app.openapi(createRoute_, async (c) => {
    const user = await createScimUser({ ctx: serviceContext(c), input: c.req.valid('json') });
    c.header('location', user.meta.location);
    return scimJson(c, responseBody(c, ScimUserSchema, user), 201);
  });
  app.openapi(getRoute, async (c) => {
    const user = await getScimUser({ ctx: serviceContext(c), input: c.req.valid('param') });
    return scimJson(c, responseBody(c, ScimUserSchema, user));
  });
  app.openapi(replaceRoute, async (c) => {
    const user = await replaceScimUser({
      ctx: serviceContext(c),
      input: { id: c.req.valid('param').id, user: c.req.valid('json') },
    });
    return scimJson(c, responseBody(c, ScimUserSchema, user));
  });
  app.openapi(patchRoute, async (c) => {
    const user = await patchScimUser({
      ctx: serviceContext(c),
      input: { id: c.req.valid('param').id, operations: c.req.valid('json').Operations },
    });
    return scimJson(c, responseBody(c, ScimUserSchema, user));
  });
  app.openapi(deleteRoute, async (c) => {
    await deleteScimUser({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.body(null, 204);
  });
}
