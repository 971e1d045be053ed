import type { Redis } from '@upstash/redis/cloudflare';
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { createDatabase, type Database } from '../../db/client.ts';
import { outbox, type OutboxRow } from '../../db/schema/index.ts';
import { scoped, type Scope } from '../../db/tenant.ts';
import type { Bindings } from '../../env.ts';
import type { ServiceContext } from '../../lib/context.ts';
import type { Logger } from '../../lib/logger.ts';
import { createRedis } from '../../lib/redis.ts';
import type { QueueMessage } from '../../queues/messages.ts';
import type { EventType } from './catalogue.ts';
import { takeOutboxIds } from './record.ts';
import { announceCatalogueChanges, catalogueChanges } from '../catalogue/edge-cache.ts';
import { announceLiveChanges } from '../realtime/announce.ts';
import type { EventLive } from '../realtime/event-live.ts';
import { uuidArray } from '../../db/params.ts';
import { offerAfterRelease } from '../waitlist/offer.ts';

/**
 * The outbox dispatcher: publishes undispatched outbox rows to the queues, then stamps them.
 *
 * - Every event goes to WEBHOOK_QUEUE as `{ id: <outbox id>, type: 'webhook.fanout', organizationId, payload,
 *   createdAt }`; the webhook consumer fans it out to the organization's endpoints.
 * - `booking.confirmed`, `booking.cancelled`, `booking.refunded` and `ticket.transferred` also go to EMAIL_QUEUE as
 *   `{ id: 'email:<outbox id>', type: 'email.event', ... }` (the buyer's email; the new and previous holders').
 * - Events that change the public catalogue (events, ticket types, seats) are announced to its edge cache in Redis
 *   (`announceCatalogueChanges`, one round trip, beside the sends; see src/services/catalogue/edge-cache.ts), so
 *   public reads show them within a second. A failed announcement is logged and does not hold the rows back: the
 *   cache's own maximum age bounds what it costs.
 * - Events that change an event's seats, check-ins or bookings are announced to that event's Durable Object
 *   (`announceLiveChanges`, one RPC per event, beside the sends; see src/services/realtime/), which pushes them to
 *   the live streams. A failed announcement is logged and does not hold the rows back either.
 * - Then ONE statement stamps `dispatched_at` on the rows whose messages were all sent
 *   (`where id = any(...) and dispatched_at is null`).
 *
 * Delivery is at least once: a crash (or a failed stamp) after the send re-sends the rows on the next run, and the
 * after-response dispatch and the scheduled sweep may both pick a fresh row. Consumers dedupe on the message id,
 * which is stable per event and queue.
 *
 * Who runs it: `notifyOutbox(ctx, organizationId)` after a request's batch wrote events (in `waitUntil`, after the
 * response, only the rows that request wrote), and the scheduled handler every minute for every organization
 * (`sweepOutbox`), the safety net for rows a Worker wrote but never dispatched (it died, or the dispatch failed).
 */

/** How many rows one dispatch publishes (oldest first). */
export const DISPATCH_LIMIT = 100;
/** How many pages of DISPATCH_LIMIT rows one scheduled sweep publishes at most. */
const SWEEP_PAGES = 10;

/** The events that also send email (the buyer's; a transfer's holders'). */
export const EMAIL_EVENTS: ReadonlySet<string> = new Set<EventType>([
  'booking.confirmed',
  'booking.cancelled',
  'booking.refunded',
  'ticket.transferred',
]);

export const WEBHOOK_MESSAGE_TYPE = 'webhook.fanout';
export const EMAIL_MESSAGE_TYPE = 'email.event';

// Cloudflare Queues limits: 100 messages and 256 KB per sendBatch, 128 KB per message. Margins for the framing.
const BATCH_MESSAGES = 100;
const BATCH_BYTES = 224 * 1024;
const MESSAGE_BYTES = 120 * 1024;

export interface DispatchOptions {
  /** Only this organization's rows (the after-response dispatch); all organizations when omitted (platform scope). */
  organizationId?: string | undefined;
  /** Only these rows (the ones a request wrote); with `organizationId`. */
  ids?: readonly string[] | undefined;
  /** At most this many rows, oldest first (default and maximum DISPATCH_LIMIT). */
  limit?: number | undefined;
  /** Where the public catalogue's changes are announced (its edge cache); none announced without it. */
  redis?: Redis | undefined;
  /** The events' Durable Objects (EVENT_LIVE), told what changed for the live streams; none told without it. */
  live?: DurableObjectNamespace<EventLive> | undefined;
  /** Waitlist offers (issue #18 part 2): run the offer step for events whose seats the rows released. */
  waitlist?: Pick<Bindings, 'EMAIL_QUEUE' | 'ENVIRONMENT' | 'ROOT_DOMAIN'> | undefined;
}

export interface DispatchResult {
  /** Rows selected (undispatched when read). */
  selected: number;
  /** Rows published and stamped by this run. */
  dispatched: number;
  /** Rows left undispatched because a send failed (retried by the next run). */
  failed: number;
}

interface Outgoing {
  rowId: string;
  body: QueueMessage;
  bytes: number;
}

function envelope(row: OutboxRow, id: string, type: string): QueueMessage {
  return {
    id,
    type,
    organizationId: row.organizationId,
    payload: row.payload,
    createdAt: row.createdAt.toISOString(),
  };
}

const encoder = new TextEncoder();

function outgoing(row: OutboxRow, id: string, type: string): Outgoing {
  const body = envelope(row, id, type);
  return { rowId: row.id, body, bytes: encoder.encode(JSON.stringify(body)).byteLength };
}

/** Splits messages into sendBatch calls within the queue's count and size limits. */
function chunks(messages: readonly Outgoing[]): Outgoing[][] {
  const result: Outgoing[][] = [];
  let current: Outgoing[] = [];
  let bytes = 0;
  for (const message of messages) {
    if (current.length > 0 && (current.length >= BATCH_MESSAGES || bytes + message.bytes > BATCH_BYTES)) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += message.bytes;
  }
  if (current.length > 0) result.push(current);
  return result;
}

/**
 * Sends the messages to one queue; returns the outbox ids of rows whose message could not be sent. A message over
 * the queue's size limit is never sent (it cannot be): logged as an error each run, its row stays undispatched.
 */
async function send(queue: Queue, messages: readonly Outgoing[], logger: Logger, queueName: string) {
  const failed = new Set<string>();
  const sendable: Outgoing[] = [];
  for (const message of messages) {
    if (message.bytes > MESSAGE_BYTES) {
      logger.error('outbox event too large for a queue message', {
        outboxId: message.rowId,
        type: message.body.type,
        bytes: message.bytes,
        queue: queueName,
      });
      failed.add(message.rowId);
    } else {
      sendable.push(message);
    }
  }
  for (const chunk of chunks(sendable)) {
    try {
      await queue.sendBatch(chunk.map((message) => ({ body: message.body, contentType: 'json' as const })));
    } catch (error) {
      logger.warn('outbox dispatch: sendBatch failed, rows stay undispatched', {
        queue: queueName,
        messages: chunk.length,
        error,
      });
      for (const message of chunk) failed.add(message.rowId);
    }
  }
  return failed;
}

/** Announces the rows' catalogue changes; a failure is logged, never thrown (the rows are still sent and stamped). */
async function announce(redis: Redis | undefined, rows: readonly OutboxRow[], logger: Logger): Promise<void> {
  if (redis === undefined) return;
  const changes = catalogueChanges(rows);
  try {
    await announceCatalogueChanges(redis, changes);
  } catch (error) {
    logger.error('outbox dispatch: catalogue changes not announced; public reads may lag up to the cache max age', {
      organizations: changes.size,
      error,
    });
  }
}

/**
 * Publishes up to `limit` undispatched rows (oldest first) of one organization, or of all under the platform scope,
 * and stamps those whose messages were all sent. Two database round trips when there is something to send, one
 * otherwise. Use a database client without a request id when it runs after a response, so its round trips are not
 * counted on that request.
 */
export async function dispatchOutbox(
  db: Database,
  bindings: Pick<Bindings, 'EMAIL_QUEUE' | 'WEBHOOK_QUEUE'>,
  logger: Logger,
  options: DispatchOptions = {},
): Promise<DispatchResult> {
  const { organizationId, ids } = options;
  if (ids !== undefined && (ids.length === 0 || organizationId === undefined)) {
    return { selected: 0, dispatched: 0, failed: 0 };
  }
  const limit = Math.max(1, Math.min(options.limit ?? DISPATCH_LIMIT, DISPATCH_LIMIT));
  const scope: Scope = organizationId === undefined ? { platform: true } : { organizationId };
  const [rows] = await scoped(db, scope, [
    db
      .select()
      .from(outbox)
      .where(
        and(
          isNull(outbox.dispatchedAt),
          organizationId === undefined ? undefined : eq(outbox.organizationId, organizationId),
          ids === undefined ? undefined : sql`${outbox.id} = any(${uuidArray(ids)})`,
        ),
      )
      .orderBy(asc(outbox.createdAt), asc(outbox.id))
      .limit(limit),
  ]);
  if (rows.length === 0) return { selected: 0, dispatched: 0, failed: 0 };

  const webhooks = rows.map((row) => outgoing(row, row.id, WEBHOOK_MESSAGE_TYPE));
  const emails = rows
    .filter((row) => EMAIL_EVENTS.has(row.type))
    .map((row) => outgoing(row, `email:${row.id}`, EMAIL_MESSAGE_TYPE));
  const [webhookFailures, emailFailures] = await Promise.all([
    send(bindings.WEBHOOK_QUEUE, webhooks, logger, 'webhooks'),
    send(bindings.EMAIL_QUEUE, emails, logger, 'email'),
    announce(options.redis, rows, logger),
    announceLiveChanges(options.live, rows, logger),
  ]);
  const sent = rows.map((row) => row.id).filter((id) => !webhookFailures.has(id) && !emailFailures.has(id));

  if (sent.length > 0) {
    await scoped(db, scope, [
      db
        .update(outbox)
        .set({ dispatchedAt: sql`now()` })
        .where(
          and(
            organizationId === undefined ? undefined : eq(outbox.organizationId, organizationId),
            sql`${outbox.id} = any(${uuidArray(sent)})`,
            isNull(outbox.dispatchedAt),
          ),
        ),
    ]);
  }
  // Waitlist (issue #18 part 2): seats released by these rows are offered to the events' waitlists.
  if (options.waitlist !== undefined) await offerAfterRelease(db, options.waitlist, logger, rows);
  const result = { selected: rows.length, dispatched: sent.length, failed: rows.length - sent.length };
  if (result.failed > 0) logger.warn('outbox dispatch left rows undispatched', { organizationId, ...result });
  else logger.debug('outbox dispatched', { organizationId, ...result });
  return result;
}

/** The bindings the waitlist's offer step needs, when the caller has them all. */
function waitlistBindings(
  bindings: Pick<Bindings, 'EMAIL_QUEUE'> & Partial<Pick<Bindings, 'ENVIRONMENT' | 'ROOT_DOMAIN'>>,
): DispatchOptions['waitlist'] {
  const { EMAIL_QUEUE, ENVIRONMENT, ROOT_DOMAIN } = bindings;
  return ENVIRONMENT === undefined || ROOT_DOMAIN === undefined ? undefined : { EMAIL_QUEUE, ENVIRONMENT, ROOT_DOMAIN };
}

/**
 * The scheduled safety net: dispatches every organization's undispatched rows, page after page while pages come
 * back full and fully sent (at most SWEEP_PAGES pages a run; the next run continues).
 */
export async function sweepOutbox(
  db: Database,
  bindings: Pick<Bindings, 'EMAIL_QUEUE' | 'WEBHOOK_QUEUE'> & Partial<Pick<Bindings, 'ENVIRONMENT' | 'ROOT_DOMAIN'>>,
  logger: Logger,
  redis?: Redis,
  live?: DurableObjectNamespace<EventLive>,
): Promise<DispatchResult> {
  const total: DispatchResult = { selected: 0, dispatched: 0, failed: 0 };
  for (let page = 0; page < SWEEP_PAGES; page += 1) {
    const result = await dispatchOutbox(db, bindings, logger, {
      limit: DISPATCH_LIMIT,
      redis,
      live,
      waitlist: waitlistBindings(bindings),
    });
    total.selected += result.selected;
    total.dispatched += result.dispatched;
    total.failed += result.failed;
    if (result.selected < DISPATCH_LIMIT || result.failed > 0) break;
  }
  if (total.selected > 0) logger.info('outbox sweep', { ...total });
  return total;
}

/**
 * The after-response trigger. Services call it after a batch that wrote outbox rows has committed: it dispatches
 * the rows this request wrote (the ids its outbox statements remembered on `ctx.services.db`, see record.ts) in
 * `waitUntil`, with a database client that carries no request id (its round trips are background work, not the
 * request's; so is its Redis client, which announces the catalogue changes). A failure is only logged: the rows stay undispatched and the scheduled sweep publishes them.
 */
export function notifyOutbox(
  ctx: Pick<ServiceContext, 'bindings' | 'logger' | 'services' | 'tenant' | 'waitUntil'>,
  organizationId: string,
): void {
  const ids = takeOutboxIds(ctx.services.db);
  if (ids.length === 0) return;
  ctx.waitUntil(
    Promise.resolve()
      .then(() =>
        // The database that wrote the rows: the request's organization's (tenant directory).
        dispatchOutbox(createDatabase(ctx.bindings, undefined, ctx.tenant?.database), ctx.bindings, ctx.logger, {
          organizationId,
          ids,
          redis: createRedis(ctx.bindings),
          live: ctx.bindings.EVENT_LIVE,
          waitlist: ctx.bindings,
        }),
      )
      .catch((error: unknown) => {
        ctx.logger.warn('outbox dispatch after the response failed; the scheduled sweep will publish', {
          organizationId,
          error,
        });
      }),
  );
}
