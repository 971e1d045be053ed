import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { listQuestions } from '../../services/questions/manage.ts';
import { responseBody } from '../response.ts';
import { EventQuestionsParamsSchema, EXAMPLE_QUESTION, QuestionListSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/events/{id}/questions',
  operationId: 'listQuestions',
  tags: ['Questions'],
  summary: "List an event's attendee questions",
  description:
    'Every question of the event, archived ones included, by `position` then `key` (at most 50). Another ' +
    "organization's event answers 404. Needs `events:read`. One database round trip.",
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:read')] as const,
  request: { params: EventQuestionsParamsSchema },
  responses: {
    200: {
      description: "The event's questions.",
      content: { 'application/json': { schema: QuestionListSchema, example: { data: [EXAMPLE_QUESTION] } } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const data = await listQuestions({ ctx: serviceContext(c), input: { eventId: c.req.valid('param').id } });
    return c.json(responseBody(c, QuestionListSchema, { data }), 200);
  });
}
