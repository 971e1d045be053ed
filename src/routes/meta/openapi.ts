import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';

export const OPENAPI_PATH = '/api/v1/openapi.json';

export const route = createRoute({
  method: 'get',
  path: OPENAPI_PATH,
  tags: ['Meta'],
  summary: 'OpenAPI document',
  description: 'The OpenAPI 3.1 description of this API, generated from the route definitions.',
  responses: {
    200: {
      description: 'The OpenAPI 3.1 document.',
      content: { 'application/json': { schema: z.record(z.string(), z.unknown()).openapi('OpenAPIDocument') } },
    },
  },
});

// The document depends only on the routes and the root domain, so it is built once per isolate and domain.
const documents = new Map<string, object>();

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, (c) => {
    const rootDomain = c.var.bindings.ROOT_DOMAIN;
    let document = documents.get(rootDomain);
    if (!document) {
      document = app.getOpenAPI31Document({
        openapi: '3.1.0',
        info: {
          title: 'Eventra API',
          version: '1.0.0',
          description:
            'White-label, multi-tenant event management. Each organization is served on its own host ' +
            `(\`{slug}.${rootDomain}\` or a verified custom domain); platform endpoints live on \`${rootDomain}\`. ` +
            'Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code` and the `requestId`.',
        },
        servers: [
          {
            url: `https://{organization}.${rootDomain}`,
            description: 'An organization (tenant) host',
            variables: { organization: { default: 'acme', description: 'The organization slug.' } },
          },
          { url: `https://${rootDomain}`, description: 'The platform host' },
        ],
      });
      documents.set(rootDomain, document);
    }
    c.header('cache-control', 'public, max-age=300');
    return c.json(document, 200);
  });
}
