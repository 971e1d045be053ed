import { fileTypeFromBuffer } from 'file-type';
import { imageSize } from 'image-size';
import { ApiError } from '../../errors/api-error.ts';
import { MAX_IMAGE_SIDE, MIN_IMAGE_SIDE, unsupported, type CheckedImage, type ImageType } from './images.ts';

// The check of an upload's bytes, run in the formats Worker (src/workers/formats.ts): file-type and image-size with
// their tokenizers are about 85 KiB of minified code that only image uploads need.

/** image-size's names of the accepted types. */
const SIZE_TYPES: Record<ImageType, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };

/** Markup that makes a file a polyglot a browser could run as a page or a script if it ever sniffed it. */
const MARKUP = /^<(?:script|html|svg|iframe|object|embed|body|!doctype)[\s>/]/i;

/** Whether the bytes hold markup: each `<` with the 12 bytes after it, read as Latin-1, against MARKUP. */
function containsMarkup(bytes: Uint8Array): boolean {
  for (let index = bytes.indexOf(0x3c); index !== -1; index = bytes.indexOf(0x3c, index + 1)) {
    if (MARKUP.test(String.fromCharCode(...bytes.subarray(index, index + 12)))) return true;
  }
  return false;
}

/**
 * Checks the bytes of an uploaded image: the type sniffed from the magic bytes (file-type) and the one the header
 * parser reads (image-size) must both be the declared type (415 otherwise: SVG, HTML, a lying Content-Type), the
 * file must carry no HTML/SVG markup (415: a polyglot), and each side must be within MIN_IMAGE_SIDE..MAX_IMAGE_SIDE
 * pixels (422). Only the headers are parsed: nothing is decoded, so a bomb costs nothing.
 */
export async function checkImage(bytes: Uint8Array, declared: ImageType): Promise<CheckedImage> {
  if (bytes.byteLength === 0)
    throw new ApiError('bad_request', { detail: 'The request body is empty: send the image.' });
  const sniffed = await fileTypeFromBuffer(bytes);
  if (sniffed?.mime !== declared) {
    throw unsupported(
      `The body is not ${declared}: its content is ${sniffed === undefined ? 'not a recognised image type' : sniffed.mime}. Only PNG, JPEG and WebP images are accepted, with the matching Content-Type.`,
    );
  }
  let size: { width: number; height: number; type?: string | undefined };
  try {
    size = imageSize(bytes);
  } catch {
    throw unsupported(`The ${declared} image is truncated or malformed: its dimensions cannot be read.`);
  }
  if (size.type !== SIZE_TYPES[declared]) {
    throw unsupported(`The body is not a well-formed ${declared} image.`);
  }
  if (containsMarkup(bytes)) {
    throw unsupported('The image contains HTML or SVG markup (a polyglot file); send a plain image.');
  }
  const { width, height } = size;
  const within = (side: number) => Number.isInteger(side) && side >= MIN_IMAGE_SIDE && side <= MAX_IMAGE_SIDE;
  if (!within(width) || !within(height)) {
    throw new ApiError('unprocessable', {
      detail: `The image is ${width} x ${height} pixels; each side must be ${MIN_IMAGE_SIDE} to ${MAX_IMAGE_SIDE} pixels.`,
    });
  }
  return { type: declared, width, height };
}
