import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { createLogger, logLevel } from '../lib/logger.ts';

/** An incoming X-Request-Id is honoured only in this shape, so it is safe in logs, headers and URLs. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._-]{8,128}$/;

/**
 * Gives every request an id (the caller's `X-Request-Id` when well formed, else a new UUID) and a structured logger
 * bound to it, echoes the id in the response and writes one access-log line when the response is ready.
 * Query strings are never logged: they may carry tokens.
 *
 * @example
 * app.use(requestContext());
 * app.get('/x', (c) => { c.var.logger.info('hello'); return c.json({ id: c.var.requestId }); });
 */
export function requestContext() {
  return createMiddleware<AppEnv>(async function requestContextMiddleware(c, next) {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming !== undefined && REQUEST_ID_PATTERN.test(incoming) ? incoming : crypto.randomUUID();
    const logger = createLogger({ requestId }, logLevel(c.env.LOG_LEVEL));
    c.set('requestId', requestId);
    c.set('logger', logger);
    const started = Date.now();
    await next();
    c.res.headers.set('x-request-id', requestId);
    const url = new URL(c.req.url);
    logger.info('request', {
      method: c.req.method,
      host: url.hostname,
      path: url.pathname,
      status: c.res.status,
      durationMs: Date.now() - started,
      tenant: c.get('tenant')?.slug ?? null,
    });
  });
}
