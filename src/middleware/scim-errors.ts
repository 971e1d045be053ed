import type { MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { PROBLEM_CONTENT_TYPE } from '../errors/problem.ts';
import { SCIM_ERROR_SCHEMA, SCIM_MEDIA_TYPE } from '../services/scim/resources.ts';

/**
 * Every SCIM answer in SCIM's own shapes: the middleware rewrites a problem+json refusal
 * (from the guards, the validation hook or the service) into a SCIM error (RFC 7644 3.12) with the same status and
 * headers, and its `scimType` when the refusal named one.
 */
export function scimErrors(): MiddlewareHandler<AppEnv> {
  return createMiddleware<AppEnv>(async function scimErrorsMiddleware(c, next) {
    await next();
    if (c.res.headers.get('content-type') !== PROBLEM_CONTENT_TYPE) return;
    const problem: {
      detail?: string;
      title?: string;
      scimType?: string;
      errors?: { pointer: string; message: string }[];
    } = await c.res.clone().json();
    const fields = problem.errors?.map((error) => `${error.pointer}: ${error.message}`).join('; ');
    const body = {
      schemas: [SCIM_ERROR_SCHEMA],
      status: String(c.res.status),
      ...(problem.scimType === undefined
        ? c.res.status === 400
          ? { scimType: 'invalidValue' }
          : {}
        : { scimType: problem.scimType }),
      detail: [problem.detail ?? problem.title, fields].filter(Boolean).join(' '),
    };
    const headers = new Headers(c.res.headers);
    headers.set('content-type', SCIM_MEDIA_TYPE);
    c.res = new Response(JSON.stringify(body), { status: c.res.status, headers });
  });
}
