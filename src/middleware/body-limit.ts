import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors/api-error.ts';

export const MAX_BODY_BYTES = 1024 * 1024;
/** The import routes (POST /api/v1/imports/...) take files of up to 10 MiB (docs/API.md, "Imports"). */
export const MAX_IMPORT_BODY_BYTES = 10 * 1024 * 1024;
const IMPORT_PATH_PREFIX = '/api/v1/imports/';

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

/**
 * The body limit of every request: 1 MiB, 10 MiB on the import routes.
 *
 * @example
 * app.use(requestBodyLimit());
 */
export function requestBodyLimit() {
  const standard = bodyLimit();
  const imports = bodyLimit(MAX_IMPORT_BODY_BYTES);
  return createMiddleware<AppEnv>(async function requestBodyLimitMiddleware(c, next) {
    const limit = c.req.path.startsWith(IMPORT_PATH_PREFIX) ? imports : standard;
    return limit(c, next);
  });
}
