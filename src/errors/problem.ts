import { z } from '@hono/zod-openapi';
import { ERROR_CODES, problemType, type ErrorCode } from './codes.ts';
import type { FieldError } from './api-error.ts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ description: 'A URI naming the problem type.', example: problemType('not_found') }),
    title: z
      .string()
      .openapi({ description: 'Short, human-readable summary of the problem type.', example: 'Not found' }),
    status: z.number().int().openapi({ description: 'The HTTP status code.', example: 404 }),
    detail: z
      .string()
      .optional()
      .openapi({ description: 'What went wrong in this occurrence.', example: 'No event with this id.' }),
    code: z
      .enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]])
      .openapi({ description: 'Stable, machine-readable error code.', example: 'not_found' }),
    requestId: z.string().openapi({
      description:
        "The server's id of the request (also in the X-Request-Id header, never the caller's own); quote it when asking for support.",
      example: 'b3f1c2de-8a7b-4c55-9d1e-2f3a4b5c6d7e',
    }),
    errors: z
      .array(
        z.object({
          pointer: z
            .string()
            .openapi({ description: 'RFC 6901 JSON pointer into the request.', example: '/body/name' }),
          message: z.string().openapi({ description: 'What is wrong there.', example: 'Required' }),
        }),
      )
      .optional()
      .openapi({ description: 'Field-level validation errors.' }),
  })
  .openapi('Problem', { description: 'An RFC 9457 problem details object.' });

export type Problem = z.infer<typeof ProblemSchema> & Record<string, unknown>;

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
    ...(detail === undefined ? {} : { detail }),
    code,
    requestId,
    ...(errors === undefined ? {} : { errors }),
  };
}

/**
 * OpenAPI responses for the given error statuses, spread into every route's `responses`. Each lists the codes
 * from the table that can produce that status.
 */
export function errorResponses<const S extends number>(...statuses: S[]) {
  const responses = {} as Record<S, { description: string; content: Record<string, { schema: typeof ProblemSchema }> }>;
  for (const status of statuses) {
    const codes = (Object.keys(ERROR_CODES) as ErrorCode[]).filter((code) => ERROR_CODES[code].status === status);
    responses[status] = {
      description: codes.map((code) => `\`${code}\`: ${ERROR_CODES[code].title}`).join('; '),
      content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
    };
  }
  return responses;
}
