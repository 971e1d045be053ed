import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { SCIM_MAX_RESULTS } from '../../services/scim/resources.ts';
import { scimOperation, scimContent, scimErrorResponses, scimJson } from './schema.ts';

const SERVICE_PROVIDER_CONFIG_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';

const supported = (value: boolean) => z.object({ supported: z.literal(value) });

const ServiceProviderConfigSchema = z
  .object({
    schemas: z.array(z.literal(SERVICE_PROVIDER_CONFIG_SCHEMA)).max(1),
    documentationUri: z.string().max(200),
    patch: supported(true),
    bulk: z.object({ supported: z.literal(false), maxOperations: z.literal(0), maxPayloadSize: z.literal(0) }),
    filter: z.object({ supported: z.literal(true), maxResults: z.literal(SCIM_MAX_RESULTS) }),
    changePassword: supported(false),
    sort: supported(false),
    etag: supported(false),
    authenticationSchemes: z
      .array(
        z.object({ type: z.literal('oauthbearertoken'), name: z.string().max(100), description: z.string().max(300) }),
      )
      .max(1),
  })
  .openapi('ScimServiceProviderConfig', { description: 'What this SCIM service offers (RFC 7643 5).' });

export const route = createRoute({
  method: 'get',
  path: '/scim/v2/ServiceProviderConfig',
  operationId: 'scimServiceProviderConfig',
  summary: 'SCIM: what this service offers',
  description:
    'PATCH and a one-comparison filter (at most 100 results) are offered; bulk, sort, ETags and password changes are ' +
    'not. Authentication: an API key with `scim:provision` as the bearer token.',
  ...scimOperation(),
  responses: {
    200: { description: 'The configuration.', content: scimContent(ServiceProviderConfigSchema) },
    ...scimErrorResponses(401, 403, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, (c) =>
    scimJson(c, {
      schemas: [SERVICE_PROVIDER_CONFIG_SCHEMA],
      documentationUri: '/docs',
      patch: { supported: true },
      bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
      filter: { supported: true, maxResults: SCIM_MAX_RESULTS },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: false },
      authenticationSchemes: [
        {
          type: 'oauthbearertoken',
          name: 'API key',
          description: 'An API key of the organization with the scim:provision permission, as a bearer token.',
        },
      ],
    }),
  );
}
