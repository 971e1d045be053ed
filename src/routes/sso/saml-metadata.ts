import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { addressBucket, limitRequests, META_READ_LIMIT } from '../../middleware/request-limit.ts';
import { samlMetadataOf } from '../../services/sso/connections.ts';
import { tenantOnly } from '../organizations/host.ts';
import { SsoConnectionIdParamsSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/sso/saml/{id}/metadata',
  operationId: 'samlServiceProviderMetadata',
  tags: ['Single sign-on'],
  summary: 'SAML service provider metadata of a connection',
  description:
    'The SP metadata of a SAML connection of this organization (its entityID, which is this URL, and the Assertion ' +
    'Consumer Service for HTTP-POST; assertions must be signed), for the IdP administrator to import. Public, like ' +
    "every SP's metadata; 300 reads a minute per client address. 404 for anything but a SAML connection of this " +
    'organization.',
  middleware: [tenantOnly(), limitRequests(META_READ_LIMIT, addressBucket)] as const,
  request: { params: SsoConnectionIdParamsSchema },
  responses: {
    200: {
      description: 'The metadata (an md:EntityDescriptor).',
      content: {
        'application/samlmetadata+xml': {
          schema: z.string().max(65_536).openapi({
            description: 'SAML 2.0 metadata XML.',
            example: '<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="...">...',
          }),
        },
      },
    },
    ...errorResponses(400, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const xml = await samlMetadataOf({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.body(xml, 200, { 'content-type': 'application/samlmetadata+xml; charset=utf-8' });
  });
}
