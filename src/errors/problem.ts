import { z } from '@hono/zod-openapi';
import { ERROR_CODES, problemType, type ErrorCode } from './codes.ts';
import { int32 } from '../routes/fields.ts';
import {
  MAX_FIELD_ERROR_MESSAGE,
  MAX_FIELD_ERRORS,
  MAX_POINTER,
  MAX_PROBLEM_DETAIL,
  PROBLEM_CONTENT_TYPE,
} from './problem-body.ts';

export {
  buildProblem,
  MAX_FIELD_ERROR_MESSAGE,
  MAX_FIELD_ERRORS,
  MAX_POINTER,
  MAX_PROBLEM_DETAIL,
  PROBLEM_CONTENT_TYPE,
  type Problem,
} from './problem-body.ts';

const CODES = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];
const TITLES = [...new Set(CODES.map((code) => ERROR_CODES[code].title))] as [string, ...string[]];
const TYPES = CODES.map(problemType) as [string, ...string[]];
const STATUSES = CODES.map((code) => ERROR_CODES[code].status);

export const ProblemSchema = z
  .object({
    type: z.enum(TYPES).openapi({ description: 'A URI naming the problem type.', example: problemType('not_found') }),
    title: z
      .enum(TITLES)
      .openapi({ description: 'Short, human-readable summary of the problem type.', example: 'Not found' }),
    status: int32(Math.min(...STATUSES), Math.max(...STATUSES)).openapi({
      description: 'The HTTP status code.',
      example: 404,
    }),
    detail: z
      .string()
      .max(MAX_PROBLEM_DETAIL)
      .optional()
      .openapi({ description: 'What went wrong in this occurrence.', example: 'No event with this id.' }),
    code: z.enum(CODES).openapi({ description: 'Stable, machine-readable error code.', example: 'not_found' }),
    requestId: z
      .string()
      .max(36)
      .regex(/^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|unknown)$/)
      .openapi({
        description:
          "The server's id of the request (also in the X-Request-Id header, never the caller's own); quote it when " +
          'asking for support. `unknown` only for a failure before the id was made.',
        example: 'b3f1c2de-8a7b-4c55-9d1e-2f3a4b5c6d7e',
      }),
    errors: z
      .array(
        z.object({
          pointer: z
            .string()
            .max(MAX_POINTER)
            .regex(/^(?:\/[^/]*)*$/)
            .openapi({
              description:
                `RFC 6901 JSON pointer into the request; beyond ${MAX_POINTER} characters, the deepest ancestor ` +
                'that fits.',
              example: '/body/name',
            }),
          message: z
            .string()
            .max(MAX_FIELD_ERROR_MESSAGE)
            .openapi({ description: 'What is wrong there.', example: 'Required' }),
        }),
      )
      .max(MAX_FIELD_ERRORS)
      .optional()
      .openapi({ description: `Field-level validation errors (at most ${MAX_FIELD_ERRORS}).` }),
  })
  .openapi('Problem', { description: 'An RFC 9457 problem details object.' });

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
