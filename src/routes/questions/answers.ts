import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { updateAttendeeAnswers } from '../../services/questions/manage.ts';
import { responseBody } from '../response.ts';
import { AnswersResponseSchema, AttendeeAnswersParamsSchema, UpdateAnswersSchema } from './schema.ts';

export const route = createRoute({
  method: 'patch',
  path: '/api/v1/bookings/{id}/attendees/{attendeeId}/answers',
  operationId: 'updateAttendeeAnswers',
  tags: ['Questions'],
  summary: "Change an attendee's answers",
  description:
    "Replaces the ticket's answers to the event's live questions, checked as the checkout checks them (400 " +
    'pointing at `/body/answers/<key>`: unknown key, required question unanswered, wrong type or option). ' +
    "Answers stored under archived or legacy keys are kept. Another organization's booking or ticket answers " +
    '404. Needs `bookings:write`. Writes an `attendee.answers_updated` audit row and publishes `attendee.updated` (the booking with its tickets). One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('bookings:write')] as const,
  request: {
    params: AttendeeAnswersParamsSchema,
    body: {
      required: true,
      content: { 'application/json': { schema: UpdateAnswersSchema, example: { answers: { tshirt: 'L' } } } },
    },
  },
  responses: {
    200: {
      description: "The ticket's answers after the change.",
      content: { 'application/json': { schema: AnswersResponseSchema, example: { answers: { tshirt: 'L' } } } },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { id, attendeeId } = c.req.valid('param');
    const answers = await updateAttendeeAnswers({
      ctx: serviceContext(c),
      input: { bookingId: id, attendeeId, answers: c.req.valid('json').answers },
    });
    return c.json(responseBody(c, AnswersResponseSchema, { answers }), 200);
  });
}
