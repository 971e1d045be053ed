import { z } from '@hono/zod-openapi';

/** Every queue message is this envelope; `type` picks the consumer, `id` makes redelivery idempotent. */
export const QueueMessageSchema = z.object({
  id: z.string().min(1).max(128),
  type: z.string().min(1).max(100),
  organizationId: z.uuid().nullable(),
  payload: z.unknown(),
  createdAt: z.iso.datetime(),
});
export type QueueMessage = z.infer<typeof QueueMessageSchema>;

export type QueueKind = 'email' | 'webhooks' | 'audit' | 'exports' | 'dead-letter';

/** Queue names are `eventra-<kind>` with an environment suffix in staging and production (see wrangler.toml). */
export function queueKind(queueName: string): QueueKind | undefined {
  if (queueName.startsWith('eventra-email')) return 'email';
  if (queueName.startsWith('eventra-webhooks')) return 'webhooks';
  if (queueName.startsWith('eventra-audit')) return 'audit';
  if (queueName.startsWith('eventra-exports')) return 'exports';
  if (queueName.startsWith('eventra-dlq')) return 'dead-letter';
  return undefined;
}
