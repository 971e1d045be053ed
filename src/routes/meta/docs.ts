import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import type { AppEnv } from '../../env.ts';
import { OPENAPI_PATH } from './openapi.ts';

// The reference page loads Scalar's standalone bundle from its CDN; everything else stays locked down.
const SCALAR_ORIGIN = 'https://cdn.jsdelivr.net';

export const route = createRoute({
  method: 'get',
  path: '/docs',
  operationId: 'getApiReference',
  tags: ['Meta'],
  summary: 'Interactive API reference',
  description: 'An interactive reference (Scalar) rendered from the OpenAPI document.',
  responses: {
    200: { description: 'The HTML reference page.', content: { 'text/html': { schema: z.string() } } },
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c, next) => {
    const nonce = crypto.randomUUID().replaceAll('-', '');
    const render = Scalar<AppEnv>({ url: OPENAPI_PATH, pageTitle: 'Eventra API reference', nonce });
    const response = await render(c, next);
    if (!(response instanceof Response)) return c.text('Reference unavailable', 500);
    response.headers.set(
      'content-security-policy',
      [
        "default-src 'none'",
        `script-src 'nonce-${nonce}' ${SCALAR_ORIGIN}`,
        `style-src 'self' 'unsafe-inline' ${SCALAR_ORIGIN} https://fonts.googleapis.com`,
        `font-src ${SCALAR_ORIGIN} https://fonts.gstatic.com data:`,
        "img-src 'self' data: https:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
      ].join('; '),
    );
    response.headers.set('cache-control', 'public, max-age=300');
    return response;
  });
}
