import type { z } from '@hono/zod-openapi';
import type { FieldError } from './api-error.ts';
import { ERROR_CODES, problemType, type ErrorCode } from './codes.ts';
import type { ProblemSchema } from './problem.ts';

/*
 * The problem body every error answers with, without the zod schema that describes it (src/errors/problem.ts, for the
 * OpenAPI document and the routes): the error handler runs in every isolate, the schema is built only with the routes.
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Bounds of the free-text members, applied by `buildProblem` (texts are cut, the list of field errors too). */
export const MAX_PROBLEM_DETAIL = 2000;
export const MAX_FIELD_ERRORS = 100;
export const MAX_FIELD_ERROR_MESSAGE = 1000;
export const MAX_POINTER = 500;

export type Problem = z.infer<typeof ProblemSchema> & Record<string, unknown>;

/** The text cut to `max` characters (code points, as JSON Schema counts them), marked with an ellipsis. */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const points = Array.from(text);
  return points.length <= max ? text : `${points.slice(0, max - 1).join('')}…`;
}

/** A pointer longer than `max`: the deepest ancestor that fits (still a valid pointer, into the same request). */
function ancestorPointer(pointer: string, max: number): string {
  if (pointer.length <= max) return pointer;
  return pointer.slice(0, Math.max(pointer.lastIndexOf('/', max), 0));
}

export function buildProblem(
  code: ErrorCode,
  requestId: string,
  detail?: string,
  errors?: FieldError[],
  extensions: Record<string, unknown> = {},
): Problem {
  const { status, title } = ERROR_CODES[code];
  return {
    ...extensions,
    type: problemType(code),
    title,
    status,
    ...(detail === undefined ? {} : { detail: clip(detail, MAX_PROBLEM_DETAIL) }),
    code,
    requestId,
    ...(errors === undefined
      ? {}
      : {
          errors: errors.slice(0, MAX_FIELD_ERRORS).map(({ pointer, message }) => ({
            pointer: ancestorPointer(pointer, MAX_POINTER),
            message: clip(message, MAX_FIELD_ERROR_MESSAGE),
          })),
        }),
  };
}
