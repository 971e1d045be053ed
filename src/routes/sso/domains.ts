import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import {
  addSsoDomain,
  discoverSso,
  getSsoDomain,
  listSsoDomains,
  removeSsoDomain,
  updateSsoDomain,
  verifySsoDomain,
} from '../../services/sso/domains.ts';
import { location } from '../../middleware/location.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';
import { ssoAccess, ssoWriteAccess } from './access.ts';
import {
  SsoDiscoverBodySchema,
  SsoDiscoverySchema,
  SsoDomainCreateSchema,
  SsoDomainIdParamsSchema,
  SsoDomainListSchema,
  SsoDomainSchema,
  SsoDomainUpdateSchema,
} from './schema.ts';

const tags = ['Single sign-on'];
const security = [{ bearerAuth: [] }];

export const listRoute = createRoute({
  method: 'get',
  path: '/api/v1/sso/domains',
  operationId: 'listSsoDomains',
  tags,
  summary: 'List SSO domains',
  description:
    "The organization's email domains for SSO, with the TXT record each needs. Needs `sso:manage` and the plan " +
    'feature `sso`.',
  security,
  middleware: ssoAccess(),
  responses: {
    200: { description: 'The domains.', content: { 'application/json': { schema: SsoDomainListSchema } } },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export const addRoute = createRoute({
  method: 'post',
  path: '/api/v1/sso/domains',
  operationId: 'addSsoDomain',
  tags,
  summary: 'Add an SSO domain',
  description:
    'Adds an email domain, routed to a connection of this organization, unverified: create the TXT record the ' +
    'answer shows, then POST .../verify. 400 for a name that is not a public host name or a connection that is not ' +
    "this organization's; 409 when it is here already or the organization holds 50. Writes `sso_domain.added`." +
    STEP_UP_NOTE,
  security,
  middleware: [...ssoWriteAccess(), location('/api/v1/sso/domains/{id}')],
  request: { body: { required: true, content: { 'application/json': { schema: SsoDomainCreateSchema } } } },
  responses: {
    201: { description: 'The domain and its record.', content: { 'application/json': { schema: SsoDomainSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export const getRoute = createRoute({
  method: 'get',
  path: '/api/v1/sso/domains/{id}',
  operationId: 'getSsoDomain',
  tags,
  summary: 'Get an SSO domain',
  description: "One domain with its TXT record. Another organization's answers 404 like a missing one.",
  security,
  middleware: ssoAccess(),
  request: { params: SsoDomainIdParamsSchema },
  responses: {
    200: { description: 'The domain.', content: { 'application/json': { schema: SsoDomainSchema } } },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export const verifyRoute = createRoute({
  method: 'post',
  path: '/api/v1/sso/domains/{id}/verify',
  operationId: 'verifySsoDomain',
  tags,
  summary: 'Verify an SSO domain',
  description:
    'Looks the TXT record up over DNS over HTTPS and marks the domain verified (`sso_domain.verified`). 422 ' +
    '`domain_not_verified` while the record is missing or wrong (DNS changes take a while: try again), 502 with ' +
    '`Retry-After` when the resolver fails.' +
    STEP_UP_NOTE,
  security,
  middleware: ssoWriteAccess(),
  request: { params: SsoDomainIdParamsSchema },
  responses: {
    200: { description: 'Verified.', content: { 'application/json': { schema: SsoDomainSchema } } },
    ...errorResponses(400, 401, 403, 404, 422, 502, 503),
  },
});

export const updateRoute = createRoute({
  method: 'patch',
  path: '/api/v1/sso/domains/{id}',
  operationId: 'updateSsoDomain',
  tags,
  summary: 'Enforce SSO for a domain, or reroute it',
  description:
    '`enforce: true` refuses password sign-in for the addresses of a verified domain (403 `sso_required` naming the ' +
    'connection; owners excepted, so the organization is never locked out when its IdP is down); 422 ' +
    '`domain_not_verified` before verification. `connectionId` routes it to another connection of this ' +
    'organization. Writes `sso_domain.updated`.' +
    STEP_UP_NOTE,
  security,
  middleware: ssoWriteAccess(),
  request: {
    params: SsoDomainIdParamsSchema,
    body: { required: true, content: { 'application/json': { schema: SsoDomainUpdateSchema } } },
  },
  responses: {
    200: { description: 'The domain.', content: { 'application/json': { schema: SsoDomainSchema } } },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422, 503),
  },
});

export const removeRoute = createRoute({
  method: 'delete',
  path: '/api/v1/sso/domains/{id}',
  operationId: 'removeSsoDomain',
  tags,
  summary: 'Remove an SSO domain',
  description: 'Removes the domain and its enforcement. Writes `sso_domain.removed`.' + STEP_UP_NOTE,
  security,
  middleware: ssoWriteAccess(),
  request: { params: SsoDomainIdParamsSchema },
  responses: {
    204: { description: 'Removed.' },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export const discoverRoute = createRoute({
  method: 'post',
  path: '/api/v1/sso/discover',
  operationId: 'discoverSso',
  tags,
  summary: 'Find the SSO connection of an email address',
  description:
    'Home-realm discovery for a sign-in form: the enabled connection a verified domain of this organization routes ' +
    'the address to, and whether password sign-in is refused for it; 404 when the address signs in with a password. ' +
    'The answer depends only on the domain, never on whether an account exists. No authentication; counts against ' +
    'the client address’s sign-in limit.',
  middleware: [tenantOnly()] as const,
  request: { body: { required: true, content: { 'application/json': { schema: SsoDiscoverBodySchema } } } },
  responses: {
    200: { description: 'The connection.', content: { 'application/json': { schema: SsoDiscoverySchema } } },
    ...errorResponses(400, 404, 413, 415, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(listRoute, async (c) => {
    const items = await listSsoDomains({ ctx: serviceContext(c) });
    return c.json(responseBody(c, SsoDomainListSchema, { items }), 200);
  });
  app.openapi(addRoute, async (c) => {
    const domain = await addSsoDomain({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, SsoDomainSchema, domain), 201);
  });
  app.openapi(getRoute, async (c) => {
    const domain = await getSsoDomain({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, SsoDomainSchema, domain), 200);
  });
  app.openapi(verifyRoute, async (c) => {
    const domain = await verifySsoDomain({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, SsoDomainSchema, domain), 200);
  });
  app.openapi(updateRoute, async (c) => {
    const domain = await updateSsoDomain({
      ctx: serviceContext(c),
      input: { ...c.req.valid('param'), ...c.req.valid('json') },
    });
    return c.json(responseBody(c, SsoDomainSchema, domain), 200);
  });
  app.openapi(removeRoute, async (c) => {
    await removeSsoDomain({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.body(null, 204);
  });
  app.openapi(discoverRoute, async (c) => {
    const found = await discoverSso({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, SsoDiscoverySchema, found), 200);
  });
}
