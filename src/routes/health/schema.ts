import { z } from '@hono/zod-openapi';
import { int32, ORGANIZATION_SLUG_PATTERN } from '../fields.ts';

export const LivenessSchema = z
  .object({
    status: z.literal('ok').openapi({ description: 'Always `ok` while the Worker answers.', example: 'ok' }),
  })
  .openapi('Liveness');

const CheckSchema = z
  .object({
    status: z.enum(['ok', 'fail']).openapi({ description: 'Outcome of the check.', example: 'ok' }),
    latencyMs: int32().openapi({ description: 'How long the check took.', example: 4 }),
  })
  .openapi('DependencyCheck');

export const ChecksSchema = z
  .object({
    database: CheckSchema.openapi({ description: 'One `select 1` through the Neon driver.' }),
    redis: CheckSchema.openapi({ description: 'One PING through the Upstash client.' }),
    queues: CheckSchema.openapi({ description: 'The email and webhook queue producer bindings.' }),
  })
  .openapi('DependencyChecks');

export const ReadinessSchema = z
  .object({
    status: z.literal('ok').openapi({ description: 'Every dependency answered.', example: 'ok' }),
    tenant: z.string().max(63).regex(ORGANIZATION_SLUG_PATTERN).nullable().openapi({
      description: 'Slug of the organization served on this host; null on the platform host.',
      example: 'acme',
    }),
    checks: ChecksSchema,
  })
  .openapi('Readiness');
