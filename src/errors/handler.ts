import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { NeonDbError } from '@neondatabase/serverless';
import type { ZodError } from 'zod';
import type { AppEnv } from '../env.ts';
import { createLogger, type Logger } from '../lib/logger.ts';
import { ApiError, type FieldError } from './api-error.ts';
import { codesForStatus, type ErrorCode } from './codes.ts';
import { buildProblem, PROBLEM_CONTENT_TYPE } from './problem-body.ts';

export function problemResponse(c: Context<AppEnv>, error: ApiError): Response {
  // Set by the first middleware; an error thrown before it ran still gets a problem.
  const requestId = (c.get('requestId') as string | undefined) ?? 'unknown';
  const body = buildProblem(error.code, requestId, error.detail, error.errors, error.extensions);
  const headers = new Headers(error.headers);
  headers.set('content-type', PROBLEM_CONTENT_TYPE);
  return new Response(JSON.stringify(body), { status: error.status, headers });
}

/** A JSON pointer from path segments, with `~` and `/` escaped (RFC 6901). */
export function jsonPointer(segments: readonly PropertyKey[]): string {
  return segments.map((segment) => `/${String(segment).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

export function fieldErrors(target: string, error: ZodError): FieldError[] {
  return error.issues.map((issue) => ({ pointer: `/${target}${jsonPointer(issue.path)}`, message: issue.message }));
}

/** zod-openapi `defaultHook`: every failed request validation becomes one 400 problem listing each field. */
export function validationHook(
  result: { success: true } | { success: false; error: ZodError; target: string },
  c: Context<AppEnv>,
): Response | undefined {
  if (result.success) return undefined;
  return problemResponse(
    c,
    new ApiError('validation_failed', {
      detail: 'The request does not match the schema.',
      errors: fieldErrors(result.target === 'json' ? 'body' : result.target, result.error),
    }),
  );
}

/**
 * The driver's error, recognised by the name its constructor sets: an `instanceof` would make the error handler,
 * which every isolate loads at start-up, load the whole driver with it.
 */
function isNeonDbError(error: unknown): error is NeonDbError {
  return error instanceof Error && error.name === 'NeonDbError';
}

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && chain.length < 8) {
    chain.push(current);
    current = current instanceof Error ? current.cause : undefined;
  }
  return chain;
}

/**
 * A database the driver cannot reach (network failure, or a non-400 answer from the SQL endpoint) is an outage,
 * not a bug: it answers 503 so clients retry. SQL errors (status 400, with a SQLSTATE code) stay 500s.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return causes(error).some(
    (link) =>
      isNeonDbError(link) &&
      !link.code &&
      (link.message.startsWith('Error connecting to database') || link.message.startsWith('Server error')),
  );
}

/**
 * SQLSTATEs of data exceptions that only input can cause: bad encoding (22021), NUL in text (22P05), too long
 * (22001), out of range (22003), bad text representation (22P02), bad or overflowing datetime (22007, 22008).
 * A safety net: the boundary and the schemas refuse such input first, and each one caught here is a bug to fix at
 * the source (it is logged as a warning).
 */
const INPUT_DATA_EXCEPTIONS = new Set(['22021', '22P05', '22001', '22003', '22P02', '22007', '22008']);

/** The SQLSTATE of a data exception caused by input, anywhere in the cause chain, or undefined. */
export function inputDataException(error: unknown): string | undefined {
  for (const link of causes(error)) {
    if (isNeonDbError(link) && link.code && INPUT_DATA_EXCEPTIONS.has(link.code)) return link.code;
  }
  return undefined;
}

function fromHttpException(error: HTTPException): ApiError {
  const status = error.status;
  const code: ErrorCode =
    status === 400 && /json/i.test(error.message) ? 'invalid_json' : (codesForStatus(status)[0] ?? 'internal_error');
  const detail = code === 'internal_error' || !error.message ? undefined : error.message;
  return new ApiError(code, detail === undefined ? {} : { detail });
}

/**
 * Any error as the API error it answers, in three tiers: our errors, Hono's HTTPException, and anything else (a
 * database that cannot be reached is a 503, input that reached the database unchecked a 400, the rest an opaque
 * 500), each logged as its tier requires. `app.onError` and the GraphQL error formatter share it.
 */
export function apiErrorOf(error: unknown, logger: Logger): ApiError {
  if (error instanceof ApiError) {
    if (error.status >= 500) logger.error('request failed', { code: error.code, error: error.cause ?? error });
    return error;
  }
  if (error instanceof HTTPException) return fromHttpException(error);
  if (isDatabaseUnavailable(error)) {
    // Every request fails the same way while the outage lasts: one line a second per isolate (Logger.repeating).
    logger.repeating('error', 'database unavailable', { error });
    return new ApiError('service_unavailable', {
      detail: 'The database is unavailable.',
      headers: { 'retry-after': '5' },
    });
  }
  const sqlState = inputDataException(error);
  if (sqlState) {
    logger.warn('input reached the database unchecked', { sqlState, error });
    return new ApiError('bad_request', { detail: 'A value in the request is not acceptable.' });
  }
  logger.error('unhandled error', { error });
  return new ApiError('internal_error');
}

/** `app.onError`: the error's problem response (see `apiErrorOf`). */
export const onError: ErrorHandler<AppEnv> = (error, c) => {
  const logger = (c.get('logger') as Logger | undefined) ?? createLogger({ requestId: c.get('requestId') });
  return problemResponse(c, apiErrorOf(error, logger));
};

export const notFound: NotFoundHandler<AppEnv> = (c) =>
  problemResponse(c, new ApiError('not_found', { detail: 'No such resource.' }));
