import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { updateQuestion } from '../../services/questions/manage.ts';
import { responseBody } from '../response.ts';
import { EXAMPLE_QUESTION, QuestionParamsSchema, QuestionSchema, UpdateQuestionSchema } from './schema.ts';

export const route = createRoute({
  method: 'patch',
  path: '/api/v1/events/{id}/questions/{questionId}',
  operationId: 'updateQuestion',
  tags: ['Questions'],
  summary: 'Change or archive an attendee question',
  description:
    'Changes the given fields. The key, type, level and ticket type are fixed (answers are stored under the ' +
    'key). Questions are never deleted: `archived: true` stops asking and accepting it, and the answers already ' +
    "stored stay. 409 for a cancelled or completed event. Another organization's event or question answers 404. " +
    'Needs `events:write`. Writes a `question.updated` audit row and an `event.updated` event.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: {
    params: QuestionParamsSchema,
    body: {
      required: true,
      content: { 'application/json': { schema: UpdateQuestionSchema, example: { archived: true } } },
    },
  },
  responses: {
    200: {
      description: 'The question after the change.',
      content: { 'application/json': { schema: QuestionSchema, example: EXAMPLE_QUESTION } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { id, questionId } = c.req.valid('param');
    const question = await updateQuestion({
      ctx: serviceContext(c),
      input: { ...c.req.valid('json'), eventId: id, questionId },
    });
    return c.json(responseBody(c, QuestionSchema, question), 200);
  });
}
