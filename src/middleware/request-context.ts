import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { createLogger, logLevel } from '../lib/logger.ts';

/** An incoming X-Request-Id is kept (as the correlation id) only in this shape, so it is safe in logs and headers. */
export const MAX_CORRELATION_ID = 128;
export const REQUEST_ID_PATTERN = new RegExp(`^[A-Za-z0-9._-]{8,${String(MAX_CORRELATION_ID)}}$`);

/** Which Worker answered (src/index.ts: every route; src/public.ts: the buyer's routes): in the access log. */
export type WorkerName = 'api' | 'public';

/**
 * Gives every request a server-made id (a new UUID, never the caller's: audit rows must not carry ids a client chose)
 * and a structured logger bound to it, sends it back as `X-Request-Id` and writes one access-log line when the response
 * is ready. A well-formed `X-Request-Id` from the caller is kept beside it as the correlation id: logged, written into
 * audit rows as `correlation_id` and echoed as `X-Correlation-Id`. Query strings are never logged: they may carry
 * tokens. The access log names the Worker that answered (`worker`), which in production's logs is also the script.
 *
 * @example
 * app.use(requestContext('api'));
 * app.get('/x', (c) => { c.var.logger.info('hello'); return c.json({ id: c.var.requestId }); });
 */
export function requestContext(worker: WorkerName) {
  return createMiddleware<AppEnv>(async function requestContextMiddleware(c, next) {
    const incoming = c.req.header('x-request-id');
    const correlationId = incoming !== undefined && REQUEST_ID_PATTERN.test(incoming) ? incoming : null;
    const requestId = crypto.randomUUID();
    const logger = createLogger(
      correlationId === null ? { requestId } : { requestId, correlationId },
      logLevel(c.env.LOG_LEVEL),
    );
    c.set('requestId', requestId);
    c.set('correlationId', correlationId);
    c.set('logger', logger);
    const started = Date.now();
    await next();
    c.res.headers.set('x-request-id', requestId);
    if (correlationId !== null) c.res.headers.set('x-correlation-id', correlationId);
    const url = new URL(c.req.url);
    logger.info('request', {
      worker,
      method: c.req.method,
      host: url.hostname,
      path: url.pathname,
      status: c.res.status,
      durationMs: Date.now() - started,
      tenant: c.get('tenant')?.slug ?? null,
    });
  });
}
