import type { Database } from '../db/client.ts';
import { readBindings } from '../middleware/bindings.ts';
import { organizationDatabase, OrganizationReadOnlyError } from '../services/tenants/directory.ts';

const READ_ONLY_RETRY_SECONDS = 60;
import { createLogger, logLevel, type Logger } from '../lib/logger.ts';
import type { Bindings } from '../env.ts';
import { emailHandlers } from './email.ts';
import { webhookHandlers } from './webhooks.ts';
import { auditHandlers } from './audit.ts';
import { exportHandlers } from './exports.ts';
import { QueueMessageSchema, queueKind, type QueueKind, type QueueMessage } from './messages.ts';
import { recordDeadLetter, type DeadLetterQueue } from '../services/platform/dead-letters.ts';

export interface ConsumerContext {
  bindings: Bindings;
  logger: Logger;
  /**
   * Asks for this message again after `delaySeconds` (at most 12 h) instead of acknowledging it: a scheduled retry
   * (the webhook delivery schedule), as opposed to a failure (throw, retried with backoff).
   */
  retryLater(delaySeconds: number): void;
  /**
   * The database that serves the message's organization (tenant directory; the shared one for platform messages):
   * a client off the request path, at most one control round trip per organization and 30 s.
   */
  database(): Promise<Database>;
}
export type MessageHandler = (message: QueueMessage, ctx: ConsumerContext) => Promise<void>;

/**
 * Handlers per queue kind and message type. The email, webhook, audit and export consumers register here; a message whose type has
 * no handler yet is retried and ends in the dead-letter queue rather than being dropped.
 */
export const handlers: Record<QueueKind, Map<string, MessageHandler>> = {
  email: new Map(emailHandlers),
  webhooks: new Map(webhookHandlers),
  audit: new Map(auditHandlers),
  exports: new Map(exportHandlers),
  'dead-letter': new Map(),
};

/** Backoff for retries: 5 s, 10 s, 20 s ... capped at 12 h (the Cloudflare Queues maximum delay). */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(5 * 2 ** Math.max(0, attempts - 1), 12 * 60 * 60);
}

/** The queue a message type belongs to (its handler's), or `unknown`. */
function originQueue(type: string): DeadLetterQueue {
  for (const kind of ['email', 'webhooks', 'audit', 'exports'] as const) if (handlers[kind].has(type)) return kind;
  return 'unknown';
}

/**
 * The dead-letter queue is the end of the line: log the failure, record its envelope for the platform (never the
 * payload: src/services/platform/dead-letters.ts) and acknowledge. A record that fails (the database unreachable) is
 * retried like any message; recording twice keeps one row.
 */
async function deadLetter(message: Message, bindings: Bindings, logger: Logger): Promise<void> {
  const parsed = QueueMessageSchema.safeParse(message.body);
  const envelope = parsed.success ? parsed.data : null;
  const record = {
    messageId: envelope?.id ?? message.id,
    queue: envelope ? originQueue(envelope.type) : 'unknown',
    type: envelope?.type ?? 'invalid',
    organizationId: envelope?.organizationId ?? null,
    attempts: message.attempts,
  } as const;
  logger.error('message dead-lettered', { ...record, queueMessageId: message.id });
  try {
    await recordDeadLetter(await organizationDatabase(bindings, null), record);
    message.ack();
  } catch (error) {
    logger.warn('dead letter not recorded, will retry', { messageId: record.messageId, error });
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
}

/**
 * Acknowledges or retries a message, tolerating a batch the runtime has already ended (cancelled, or its invocation
 * gone): then the call throws, and the message is redelivered anyway because it was never acknowledged, which every
 * handler tolerates (they are idempotent). Anything else still throws.
 */
function settle(message: Message, logger: Logger, outcome: { retry: false } | { retry: true; delaySeconds: number }) {
  try {
    if (outcome.retry) message.retry({ delaySeconds: outcome.delaySeconds });
    else message.ack();
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith('Cannot perform I/O on behalf of a different request'))) {
      throw error;
    }
    logger.warn('queue batch ended before its message was settled; it will be redelivered', { messageId: message.id });
  }
}

export async function consumeBatch(batch: MessageBatch, env: Record<string, unknown>): Promise<void> {
  const logger = createLogger({ queue: batch.queue }, logLevel(env.LOG_LEVEL));
  const bindings = readBindings(env);
  const kind = queueKind(batch.queue);
  for (const message of batch.messages) {
    if (kind === 'dead-letter') {
      await deadLetter(message, bindings, logger);
      continue;
    }
    const parsed = QueueMessageSchema.safeParse(message.body);
    if (!parsed.success || kind === undefined) {
      logger.error('invalid queue message', { messageId: message.id, queueKind: kind ?? null });
      // Malformed messages never become valid: send them straight on to the dead-letter queue.
      message.retry({ delaySeconds: 0 });
      continue;
    }
    const handler = handlers[kind].get(parsed.data.type);
    if (!handler) {
      logger.error('no handler for message type', { type: parsed.data.type, queueKind: kind });
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
      continue;
    }
    const outcome: { retryAfterSeconds?: number } = {};
    try {
      await handler(parsed.data, {
        bindings,
        logger: logger.child({ messageId: parsed.data.id }),
        retryLater: (delaySeconds) => {
          outcome.retryAfterSeconds = delaySeconds;
        },
        database: () => organizationDatabase(bindings, parsed.data.organizationId),
      });
      settle(
        message,
        logger,
        outcome.retryAfterSeconds === undefined
          ? { retry: false }
          : { retry: true, delaySeconds: outcome.retryAfterSeconds },
      );
    } catch (error) {
      if (error instanceof OrganizationReadOnlyError) {
        // A move takes about a minute (docs/OPERATIONS.md, "Sharding"); not a failure of the message.
        logger.info('organization being moved; message retried later', { type: parsed.data.type });
        message.retry({ delaySeconds: READ_ONLY_RETRY_SECONDS });
        continue;
      }
      logger.warn('message handler failed, will retry', { type: parsed.data.type, attempts: message.attempts, error });
      settle(message, logger, { retry: true, delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}
