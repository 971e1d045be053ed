import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { ApiError } from '../errors/api-error.ts';

export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Refuses request bodies over `maxBytes` with a 413 problem, from Content-Length when present and while streaming
 * otherwise, before any handler parses them.
 *
 * @example
 * app.use(bodyLimit());
 */
export function bodyLimit(maxBytes = MAX_BODY_BYTES) {
  return honoBodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError('payload_too_large', { detail: `Request bodies are limited to ${maxBytes} bytes.` });
    },
  });
}
