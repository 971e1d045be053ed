import { ApiError } from '../../errors/api-error.ts';
import { MAX_BODY_BYTES } from '../../middleware/body-limit.ts';

/** The largest image accepted: the API's body limit (1 MiB), so the global limit and this one never disagree. */
export const MAX_IMAGE_BYTES = MAX_BODY_BYTES;
/** Bounds of each side in pixels: refuses icons too small to show and decompression bombs (65536 x 65536 in 100 KB). */
export const MIN_IMAGE_SIDE = 16;
export const MAX_IMAGE_SIDE = 4096;

/** The image types accepted (never SVG: it can carry script). */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];

const EXTENSIONS: Record<ImageType, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };

export function imageExtension(type: ImageType): string {
  return EXTENSIONS[type];
}

function isImageType(value: string): value is ImageType {
  return (IMAGE_TYPES as readonly string[]).includes(value);
}

export function unsupported(detail: string): ApiError {
  return new ApiError('unsupported_media_type', { detail });
}

function tooLarge(): ApiError {
  return new ApiError('payload_too_large', { detail: `Images are limited to ${MAX_IMAGE_BYTES} bytes.` });
}

/**
 * The declared type of an upload from its Content-Type header (parameters dropped), refused with 415 unless it is one
 * of IMAGE_TYPES: checked before a byte of the body is read.
 */
export function declaredImageType(header: string | undefined): ImageType {
  const type = (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!isImageType(type)) {
    throw unsupported(
      `Send the image as the raw body with Content-Type image/png, image/jpeg or image/webp (got ${type === '' ? 'none' : JSON.stringify(type.slice(0, 60))}).`,
    );
  }
  return type;
}

/**
 * Reads a request body up to MAX_IMAGE_BYTES: a declared Content-Length over the limit is refused before reading,
 * and the stream is cancelled as soon as it passes the limit (413 either way), so memory never holds more.
 */
export async function readCappedBody(request: Request): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > MAX_IMAGE_BYTES) throw tooLarge();
  if (request.body === null) throw new ApiError('bad_request', { detail: 'The request has no body: send the image.' });
  const reader = (request.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_IMAGE_BYTES) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** An image's checked type and size (src/services/files/image-check.ts, in the formats Worker). */
export interface CheckedImage {
  type: ImageType;
  width: number;
  height: number;
}
