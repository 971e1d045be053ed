import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin } from '../../middleware/auth.ts';
import { DEAD_LETTER_QUEUES, listDeadLetters, resolveDeadLetter } from '../../services/platform/dead-letters.ts';
import { int32, Timestamp, Uuid } from '../fields.ts';
import { platformOnly } from '../organizations/host.ts';
import { cursorPage, pageParams } from '../pagination.ts';
import { responseBody } from '../response.ts';

/** The dead letters (issue #16 part 1): the messages the queues gave up on, for platform administrators. */

const MAX_DEAD_LETTER_PAGE_SIZE = 100;
const EXAMPLE_ID = '0c9b8a7f-6e5d-4c3b-a291-8f7e6d5c4b3a';
const EXAMPLE_CURSOR = 'WyIyMDI2LTEyLTAzVDE2OjQ2OjM4LjEyMzQ1NloiLCIwYzliOGE3Zi02ZTVkLTRjM2ItYTI5MS04ZjdlNmQ1YzRiM2EiXQ';

const Queue = z.enum(DEAD_LETTER_QUEUES);

export const DeadLetterListQuerySchema = z
  .object({
    status: z
      .enum(['open', 'resolved', 'all'])
      .default('open')
      .openapi({
        param: { name: 'status', in: 'query' },
        description: 'The open ones (default: not yet resolved), the resolved ones, or all.',
        example: 'open',
      }),
    queue: Queue.optional().openapi({
      param: { name: 'queue', in: 'query' },
      description: 'Only those that failed on this queue.',
      example: 'webhooks',
    }),
    ...pageParams({ defaultSize: 20, maxSize: MAX_DEAD_LETTER_PAGE_SIZE, cursorExample: EXAMPLE_CURSOR }),
  })
  .strict();

export const DeadLetterSchema = z
  .object({
    id: Uuid.openapi({ example: EXAMPLE_ID }),
    messageId: z.string().max(128).openapi({
      description: 'The message envelope’s id (an outbox event id, say), or the queue’s own id for a malformed body.',
      example: 'evt_01JDX3T7K9',
    }),
    queue: Queue.openapi({ description: 'The queue the message failed on (by its type).' }),
    type: z.string().max(100).openapi({
      description: 'The message type; `invalid` for a body that is no envelope.',
      example: 'webhook.deliver',
    }),
    organizationId: Uuid.nullable().openapi({ description: 'The organization it was for; null for platform work.' }),
    attempts: int32(0).openapi({ description: 'Deliveries of the dead letter to its consumer when it was recorded.' }),
    deadAt: Timestamp.openapi({ description: 'When it reached the dead-letter queue.' }),
    resolvedAt: Timestamp.nullable(),
    resolution: z.enum(['discarded', 'redelivered']).nullable().openapi({
      description: 'How an administrator resolved it; null while open.',
    }),
  })
  .openapi('DeadLetter', {
    description:
      'A message a queue gave up on after its retries. Only the envelope is kept, never the payload (an email’s ' +
      'carries personal data and one-time links).',
  });

export const DeadLetterPageSchema = cursorPage(DeadLetterSchema, {
  name: 'DeadLetterPage',
  items: 'Dead letters, newest first.',
  cursorExample: EXAMPLE_CURSOR,
  maxItems: MAX_DEAD_LETTER_PAGE_SIZE,
});

export const DeadLetterIdParamsSchema = z.object({
  id: Uuid.openapi({ param: { name: 'id', in: 'path' }, description: 'The dead letter’s id.', example: EXAMPLE_ID }),
});

export const ResolveDeadLetterBodySchema = z
  .object({
    resolution: z.enum(['discarded', 'redelivered']).openapi({
      description:
        '`discarded`: the work is not needed any more; `redelivered`: it was done again by other means (an ' +
        'organization’s webhook redelivery, a new email).',
      example: 'discarded',
    }),
    reason: z.string().trim().min(3).max(500).openapi({
      description: 'Why (kept in the platform audit log), e.g. the incident or ticket.',
      example: 'Incident #88: endpoint retired by the customer',
    }),
  })
  .strict()
  .openapi('ResolveDeadLetterRequest');

export const listRoute = createRoute({
  method: 'get',
  path: '/api/v1/platform/dead-letters',
  operationId: 'listDeadLetters',
  tags: ['Platform'],
  summary: 'List dead letters',
  description:
    'The messages the queues (email, webhooks, audit, exports) gave up on after their retries, newest first, with ' +
    `cursor pagination (\`limit\` 1 to ${MAX_DEAD_LETTER_PAGE_SIZE}): the open ones by default. The dashboard ` +
    '(`GET /api/v1/platform/metrics`) counts them per day and queue. Platform host and platform administrators only ' +
    '(404 on an organization host, 403 for other callers). One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  request: { query: DeadLetterListQuerySchema },
  responses: {
    200: {
      description: 'One page of dead letters.',
      content: { 'application/json': { schema: DeadLetterPageSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export const resolveRoute = createRoute({
  method: 'post',
  path: '/api/v1/platform/dead-letters/{id}/resolve',
  operationId: 'resolveDeadLetter',
  tags: ['Platform'],
  summary: 'Resolve a dead letter',
  description:
    'Marks a dead letter handled, with how (`discarded` or `redelivered`) and why, in the platform audit log ' +
    '(`platform.dead_letter_resolved`). The message itself is not re-sent (its payload is not kept): an ' +
    'organization’s webhook deliveries are redelivered through its own API. 404 for an unknown id, 409 when it is ' +
    'resolved already. Platform host and platform administrators only. One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  request: {
    params: DeadLetterIdParamsSchema,
    body: { required: true, content: { 'application/json': { schema: ResolveDeadLetterBodySchema } } },
  },
  responses: {
    200: { description: 'The dead letter, resolved.', content: { 'application/json': { schema: DeadLetterSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(listRoute, async (c) => {
    const page = await listDeadLetters({ ctx: serviceContext(c), input: c.req.valid('query') });
    c.header('cache-control', 'no-store');
    return c.json(responseBody(c, DeadLetterPageSchema, page), 200);
  });
  app.openapi(resolveRoute, async (c) => {
    const { resolution, reason } = c.req.valid('json');
    const resolved = await resolveDeadLetter({
      ctx: serviceContext(c),
      input: { id: c.req.valid('param').id, resolution, reason },
    });
    return c.json(responseBody(c, DeadLetterSchema, resolved), 200);
  });
}
