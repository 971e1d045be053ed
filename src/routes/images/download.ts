import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { rateLimitHeaders } from '../../lib/rate-limit.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { publicRead } from '../../services/catalogue/limits.ts';
import { imageExtension, type ImageType } from '../../services/files/images.ts';
import { readImage, type ImageDownload, type ImagePlace } from '../../services/files/service.ts';
import { EventIdParamsSchema } from '../events/schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { IMAGE_CONTENT, IMAGE_HEADERS } from './schema.ts';

const IfNoneMatchSchema = z.object({
  'if-none-match': z
    .string()
    .max(500)
    .optional()
    .openapi({ description: 'An ETag of an earlier download: 304 when the image has not changed.', example: '"9a03"' }),
});

const SERVED =
  'Sent as stored, with the type sniffed at upload as Content-Type, `X-Content-Type-Options: nosniff`, ' +
  "`Content-Disposition: inline` with a fixed file name, `Content-Security-Policy: default-src 'none'`, and the R2 " +
  'etag as ETag (If-None-Match answers 304 without reading R2).';

/** Staff send a bearer token; the public none (OpenAPI's empty requirement). */
const OPTIONAL_BEARER: Record<string, string[]>[] = [{ bearerAuth: [] }, {}];

export const logoRoute = createRoute({
  method: 'get',
  path: '/api/v1/organization/logo',
  operationId: 'getOrganizationLogo',
  tags: ['Images'],
  summary: "Download the organization's logo",
  description:
    'Public (no authentication; the branding carries its URL as `logoUrl`), rate limited per client address like ' +
    'the public catalogue (429 with Retry-After). 404 when the organization has no uploaded logo. ' +
    SERVED +
    ' `Cache-Control: public, max-age=300`. One database round trip and one Redis round trip, plus R2.',
  middleware: [tenantOnly()] as const,
  request: { headers: IfNoneMatchSchema },
  responses: {
    200: { description: 'The logo.', headers: IMAGE_HEADERS, content: IMAGE_CONTENT },
    304: { description: 'Not modified: the If-None-Match etag is current.' },
    ...errorResponses(400, 404, 429, 503),
  },
});

export const coverRoute = createRoute({
  method: 'get',
  path: '/api/v1/events/{id}/cover',
  operationId: 'getEventCover',
  tags: ['Images'],
  summary: "Download an event's cover image",
  description:
    'Without an Authorization header: public while the event is published (its catalogue entry carries the URL ' +
    'as `coverImageUrl`), rate limited per client address (429); a draft, cancelled or completed event answers 404. ' +
    'With one: needs `events:read`, and staff read the cover of an event in any status. 404 when the event has no ' +
    "uploaded cover or is another organization's. " +
    SERVED +
    ' `Cache-Control: public, max-age=300` for public reads, `no-store` for staff (as every authenticated answer). One database round trip ' +
    'and one Redis round trip, plus R2.',
  security: OPTIONAL_BEARER,
  middleware: [tenantOnly()] as const,
  request: { params: EventIdParamsSchema, headers: IfNoneMatchSchema },
  responses: {
    200: { description: 'The cover image.', headers: IMAGE_HEADERS, content: IMAGE_CONTENT },
    304: { description: 'Not modified: the If-None-Match etag is current.' },
    ...errorResponses(400, 401, 403, 404, 429, 503),
  },
});

function imageResponse(
  c: Context<AppEnv>,
  name: string,
  download: ImageDownload,
  options: { public: boolean; extra: Record<string, string> },
): Response {
  const { file, body } = download;
  const headers: Record<string, string> = {
    etag: file.etag,
    'cache-control': options.public ? 'public, max-age=300' : 'no-store',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    ...options.extra,
  };
  if (body === null) return c.body(null, 304, headers);
  return c.body(body, 200, {
    ...headers,
    'content-type': file.contentType,
    'content-length': String(file.sizeBytes),
    'content-disposition': `inline; filename="${name}.${imageExtension(file.contentType as ImageType)}"`,
  });
}

async function publicImage(c: Context<AppEnv>, name: string, place: ImagePlace, ifNoneMatch: string | undefined) {
  const ctx = serviceContext(c);
  const { outcome, result } = await publicRead(ctx, () => readImage(ctx, { place, staff: false, ifNoneMatch }));
  return imageResponse(c, name, result, {
    public: true,
    extra: outcome === null ? {} : rateLimitHeaders(outcome),
  });
}

const staffReader = requirePermission('events:read');

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(logoRoute, (c) => publicImage(c, 'logo', { kind: 'logo' }, c.req.valid('header')['if-none-match']));
  app.openapi(coverRoute, async (c) => {
    const place: ImagePlace = { kind: 'cover', eventId: c.req.valid('param').id.toLowerCase() };
    const ifNoneMatch = c.req.valid('header')['if-none-match'];
    if (c.req.header('authorization') === undefined) return publicImage(c, 'cover', place, ifNoneMatch);
    // Staff: authenticated and admitted like any staff route (the Redis round trip), then any status.
    await staffReader(c, () => Promise.resolve());
    const download = await readImage(serviceContext(c), { place, staff: true, ifNoneMatch });
    return imageResponse(c, 'cover', download, { public: false, extra: {} });
  });
}
