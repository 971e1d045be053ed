import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission, requireRecentAuth } from '../../middleware/auth.ts';
import { location } from '../../middleware/location.ts';
import { requireFeature } from '../../middleware/plan-limits.ts';
import { tenantOnly } from '../organizations/host.ts';
import { addDomain, getDomain, listDomains, removeDomain, verifyDomain } from '../../services/domains/domains.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';
import {
  DomainCreateSchema,
  DomainDetailSchema,
  DomainIdParamsSchema,
  DomainListSchema,
  presentDomain,
  presentDomainDetail,
} from './schema.ts';

const TAGS = ['Custom domains'];
const DOWNGRADE_NOTE =
  ' Without the `custom_domains` plan feature, adding and verifying answer 403 `feature_unavailable`; reading and ' +
  'removing still work, and domains verified before a downgrade stay served until removed.';

export const createDomainRoute = createRoute({
  method: 'post',
  path: '/api/v1/organization/domains',
  operationId: 'createDomain',
  tags: TAGS,
  summary: 'Add a custom domain',
  description:
    'Registers a host name for this organization and creates it as a custom hostname at Cloudflare (Cloudflare for ' +
    'SaaS, certificate validated by TXT records). The answer lists the DNS records to create: a CNAME to the ' +
    "platform's target, Eventra's ownership TXT record, and Cloudflare's ownership and certificate TXT records. The " +
    'domain is not served until POST /verify succeeds. 409: the name is registered on this platform already (by ' +
    'any organization). 502 `dns_provider_error` / 503 with Retry-After: Cloudflare failed or is not configured; ' +
    'nothing was registered, retry. Needs `organization:manage` and the `custom_domains` plan feature. Writes a ' +
    '`domain.added` audit row.' +
    DOWNGRADE_NOTE +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [
    tenantOnly(),
    requirePermission('organization:manage'),
    requireFeature('custom_domains'),
    requireRecentAuth(),
    location('/api/v1/organization/domains/{id}'),
  ] as const,
  request: {
    body: {
      required: true,
      content: { 'application/json': { schema: DomainCreateSchema, example: { hostname: 'events.example.com' } } },
    },
  },
  responses: {
    201: {
      description: 'The domain, pending, with the DNS records to create.',
      content: { 'application/json': { schema: DomainDetailSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503),
  },
});

export const listDomainsRoute = createRoute({
  method: 'get',
  path: '/api/v1/organization/domains',
  operationId: 'listDomains',
  tags: TAGS,
  summary: 'List custom domains',
  description: "The organization's custom domains, oldest first. Needs `organization:read`." + DOWNGRADE_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission('organization:read')] as const,
  responses: {
    200: { description: 'The domains.', content: { 'application/json': { schema: DomainListSchema } } },
    ...errorResponses(401, 403, 404, 503),
  },
});

export const getDomainRoute = createRoute({
  method: 'get',
  path: '/api/v1/organization/domains/{id}',
  operationId: 'getDomain',
  tags: TAGS,
  summary: 'Get a custom domain',
  description:
    "One domain with Eventra's DNS records (the CNAME and the ownership TXT record; Cloudflare's records are in " +
    "the answers of create and verify). Another organization's domain answers 404. Needs `organization:read`.",
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission('organization:read')] as const,
  request: { params: DomainIdParamsSchema },
  responses: {
    200: { description: 'The domain.', content: { 'application/json': { schema: DomainDetailSchema } } },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export const verifyDomainRoute = createRoute({
  method: 'post',
  path: '/api/v1/organization/domains/{id}/verify',
  operationId: 'verifyDomain',
  tags: TAGS,
  summary: 'Verify a custom domain',
  description:
    "Checks the ownership TXT record over DNS over HTTPS and the custom hostname's status at Cloudflare. When the " +
    'record holds the expected value and Cloudflare says the hostname and its certificate are active, the domain ' +
    'is verified and served at once; otherwise 422 `domain_not_verified` with `ownershipVerified`, `cloudflare` ' +
    'and `records` members saying what is missing, and Retry-After. 502 `dns_provider_error`: the resolver or ' +
    'Cloudflare failed, retry. Needs `organization:manage` and the `custom_domains` plan feature. Writes a ' +
    '`domain.verified` audit row the first time.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission('organization:manage'), requireFeature('custom_domains')] as const,
  request: { params: DomainIdParamsSchema },
  responses: {
    200: { description: 'Verified and served.', content: { 'application/json': { schema: DomainDetailSchema } } },
    ...errorResponses(400, 401, 403, 404, 422, 502, 503),
  },
});

export const deleteDomainRoute = createRoute({
  method: 'delete',
  path: '/api/v1/organization/domains/{id}',
  operationId: 'deleteDomain',
  tags: TAGS,
  summary: 'Remove a custom domain',
  description:
    'Removes the custom hostname at Cloudflare, then the domain: it is no longer served, at once on the instance ' +
    'that answered and within 30 seconds everywhere. 502 with Retry-After: Cloudflare failed and nothing changed, ' +
    'retry. Needs `organization:manage`. Writes a `domain.removed` audit row.' +
    DOWNGRADE_NOTE +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission('organization:manage'), requireRecentAuth()] as const,
  request: { params: DomainIdParamsSchema },
  responses: {
    204: { description: 'Removed.' },
    ...errorResponses(400, 401, 403, 404, 502, 503),
  },
});

export function registerDomainRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(listDomainsRoute, async (c) => {
    const domains = await listDomains(serviceContext(c));
    return c.json(responseBody(c, DomainListSchema, { data: domains.map(presentDomain) }), 200);
  });
  app.openapi(createDomainRoute, async (c) => {
    const view = await addDomain(serviceContext(c), c.req.valid('json'));
    return c.json(responseBody(c, DomainDetailSchema, presentDomainDetail(view)), 201);
  });
  app.openapi(getDomainRoute, async (c) => {
    const view = await getDomain(serviceContext(c), c.req.valid('param').id);
    return c.json(responseBody(c, DomainDetailSchema, presentDomainDetail(view)), 200);
  });
  app.openapi(verifyDomainRoute, async (c) => {
    const view = await verifyDomain(serviceContext(c), c.req.valid('param').id);
    return c.json(responseBody(c, DomainDetailSchema, presentDomainDetail(view)), 200);
  });
  app.openapi(deleteDomainRoute, async (c) => {
    await removeDomain(serviceContext(c), c.req.valid('param').id);
    return c.body(null, 204);
  });
}
