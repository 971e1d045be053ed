import { z } from '@hono/zod-openapi';
import { int32 } from '../fields.ts';
import { IMAGE_TYPES, MAX_IMAGE_BYTES, MAX_IMAGE_SIDE, MIN_IMAGE_SIDE } from '../../services/files/images.ts';

/** A raw image body as the upload routes take it and the downloads send it. */
export const ImageBinarySchema = z
  .string()
  .max(MAX_IMAGE_BYTES)
  .openapi({ format: 'binary', description: 'The image file itself (not JSON, not multipart).' });

/** The request body of an upload: the raw image under each accepted content type. */
export const IMAGE_BODY = {
  required: true,
  description:
    `The raw image bytes, at most ${MAX_IMAGE_BYTES} bytes (1 MiB), PNG, JPEG or WebP, each side ${MIN_IMAGE_SIDE} to ` +
    `${MAX_IMAGE_SIDE} pixels. The Content-Type must name the type the bytes really are.`,
  content: Object.fromEntries(IMAGE_TYPES.map((type) => [type, { schema: ImageBinarySchema }])),
};

/** The download's content: one of the accepted types, as stored. */
export const IMAGE_CONTENT = Object.fromEntries(IMAGE_TYPES.map((type) => [type, { schema: ImageBinarySchema }]));

const header = (description: string, maxLength = 200) => ({
  description,
  schema: { type: 'string' as const, maxLength },
});

export const IMAGE_HEADERS = {
  ETag: header('The R2 etag of the stored image; send it back in If-None-Match for a 304.', 100),
  'Cache-Control': header(
    '`public, max-age=300` for public reads; `no-store` for staff reads (an Authorization header).',
  ),
  'Content-Disposition': header('`inline; filename="logo.png"` or `inline; filename="cover.jpg"` (never user text).'),
  'X-Content-Type-Options': header('nosniff', 10),
  'Content-Security-Policy': header("`default-src 'none'; frame-ancestors 'none'`: nothing in the file can run."),
};

export const StoredImageSchema = z
  .object({
    url: z
      .string()
      .max(500)
      .regex(/^https:\/\//)
      .openapi({
        description:
          'Absolute URL of the image, versioned by upload (`?v=`): also set as `branding.logoUrl` or `coverImageUrl`.',
        example: 'https://acme.eventra.app/api/v1/organization/logo?v=0b5e8f5e-7c43-4d59-9a53-5e0f0a3a3f0e',
      }),
    contentType: z.enum(IMAGE_TYPES).openapi({ description: 'The type sniffed from the bytes.', example: 'image/png' }),
    sizeBytes: int32(1, MAX_IMAGE_BYTES).openapi({ description: 'Size of the stored file in bytes.', example: 48_213 }),
    width: int32(MIN_IMAGE_SIDE, MAX_IMAGE_SIDE).openapi({ description: 'Width in pixels.', example: 512 }),
    height: int32(MIN_IMAGE_SIDE, MAX_IMAGE_SIDE).openapi({ description: 'Height in pixels.', example: 512 }),
    etag: z
      .string()
      .max(100)
      .openapi({ description: 'The R2 etag (the download ETag).', example: '"9a0364b9e99bb480dd25e1f0284c8555"' }),
    createdAt: z
      .string()
      .max(40)
      .openapi({ description: 'When it was uploaded (ISO 8601).', example: '2026-07-01T12:00:00.000Z' }),
  })
  .openapi('StoredImage');
