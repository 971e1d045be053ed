import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { createQuestion } from '../../services/questions/manage.ts';
import { responseBody } from '../response.ts';
import { CreateQuestionSchema, EventQuestionsParamsSchema, EXAMPLE_QUESTION, QuestionSchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/events/{id}/questions',
  operationId: 'createQuestion',
  tags: ['Questions'],
  summary: 'Add an attendee question to an event',
  description:
    'Adds a question buyers answer at checkout: per ticket (`level: attendee`, optionally only for one ' +
    '`ticketTypeId`) or once per booking (`level: booking`). Types: text, long_text, number, choice, ' +
    'multi_choice, checkbox, date, email, phone, country; choice types need `options`. 409: a key the event ' +
    'already has, more than 50 questions, a cancelled or completed event. An unknown ticket type of the event is ' +
    "a 400 at `/body/ticketTypeId`. Another organization's event answers 404. Needs `events:write`. Writes a " +
    '`question.created` audit row and an `event.updated` event (the public event page lists the questions).',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: {
    params: EventQuestionsParamsSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: CreateQuestionSchema,
          example: { key: 'tshirt', label: 'T-shirt size', type: 'choice', required: true, options: ['S', 'M', 'L'] },
        },
      },
    },
  },
  responses: {
    201: {
      description: 'The question.',
      content: { 'application/json': { schema: QuestionSchema, example: EXAMPLE_QUESTION } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const question = await createQuestion({
      ctx: serviceContext(c),
      input: { ...c.req.valid('json'), eventId: c.req.valid('param').id },
    });
    return c.json(responseBody(c, QuestionSchema, question), 201);
  });
}
