import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { declaredImageType, readCappedBody } from '../../services/files/images.ts';
import { checkUpload } from '../../services/formats/client.ts';
import { uploadImage, type ImagePlace } from '../../services/files/service.ts';
import { EventIdParamsSchema } from '../events/schema.ts';
import { responseBody } from '../response.ts';
import { IMAGE_BODY, StoredImageSchema } from './schema.ts';

const CHECKS =
  'The body is the raw image (not JSON or multipart), at most 1 MiB: a larger Content-Length answers 413 before ' +
  'anything is read, and a body without one is cut off at the limit (413). The Content-Type must be image/png, ' +
  'image/jpeg or image/webp (415 otherwise; SVG is refused: it can carry script), and the type read from the ' +
  "file's magic bytes must be that same type (415 naming what the bytes are). A file carrying HTML or SVG markup " +
  '(a polyglot) answers 415. Each side must be 16 to 4096 pixels (422; read from the headers, nothing is decoded, so ' +
  "a decompression bomb costs nothing). The image counts against the plan's `storageBytes` limit (10 MiB on " +
  'starter, 1 GiB on pro, 10 GiB on enterprise; the image it replaces does not count): 403 `plan_limit` when it ' +
  'would pass it. The file is stored in R2 under a key the server makes; replacing an image deletes the old file. ' +
  'One database round trip (plus the R2 write).';

export const logoRoute = createRoute({
  method: 'put',
  path: '/api/v1/organization/logo',
  operationId: 'uploadOrganizationLogo',
  tags: ['Images'],
  summary: "Upload or replace the organization's logo",
  description:
    "Stores the organization's logo and sets `branding.logoUrl` to its URL (public, GET /api/v1/organization/logo). " +
    CHECKS +
    ' Needs `organization:manage`. Writes an `organization.logo_uploaded` audit row.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('organization:manage')] as const,
  request: { body: IMAGE_BODY },
  responses: {
    200: { description: 'The stored logo.', content: { 'application/json': { schema: StoredImageSchema } } },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422, 503),
  },
});

export const coverRoute = createRoute({
  method: 'put',
  path: '/api/v1/events/{id}/cover',
  operationId: 'uploadEventCover',
  tags: ['Images'],
  summary: "Upload or replace an event's cover image",
  description:
    "Stores the event's cover image and sets the event's `coverImageUrl` to its URL (GET " +
    '/api/v1/events/{id}/cover: public while the event is published). ' +
    CHECKS +
    " Another organization's event answers 404 and nothing is stored. Needs `events:write`. Writes an " +
    '`event.cover_uploaded` audit row. Deleting the (draft) event deletes its cover.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: { params: EventIdParamsSchema, body: IMAGE_BODY },
  responses: {
    200: { description: 'The stored cover image.', content: { 'application/json': { schema: StoredImageSchema } } },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422, 503),
  },
});

async function upload(c: Context<AppEnv>, place: ImagePlace) {
  const declared = declaredImageType(c.req.header('content-type'));
  const bytes = await readCappedBody(c.req.raw);
  const ctx = serviceContext(c);
  const image = await checkUpload(ctx, bytes, declared);
  return uploadImage(ctx, { place, bytes, image });
}

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(logoRoute, async (c) => {
    const stored = await upload(c, { kind: 'logo' });
    return c.json(responseBody(c, StoredImageSchema, stored), 200);
  });
  app.openapi(coverRoute, async (c) => {
    const stored = await upload(c, { kind: 'cover', eventId: c.req.valid('param').id.toLowerCase() });
    return c.json(responseBody(c, StoredImageSchema, stored), 200);
  });
}
