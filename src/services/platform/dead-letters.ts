import { and, desc, eq, isNotNull, isNull, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { deadLetters } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import type { ServiceContext } from '../../lib/context.ts';
import { cursorTimestamp, decodeCursor, encodeCursor, keysetAfter, listSort } from '../../lib/cursor.ts';
import { principalOf } from '../../middleware/auth.ts';
import { auditInsertWhen } from '../audit/record.ts';

/** The queues a dead letter can come from, by its message type; `unknown` for a body that is no envelope. */
export const DEAD_LETTER_QUEUES = ['email', 'webhooks', 'audit', 'exports', 'unknown'] as const;
export type DeadLetterQueue = (typeof DEAD_LETTER_QUEUES)[number];

/** What the dead-letter queue's consumer keeps of a message: the envelope, never the payload. */
export interface DeadLetterRecord {
  messageId: string;
  queue: DeadLetterQueue;
  type: string;
  organizationId: string | null;
  attempts: number;
}

/**
 * Records one dead letter (the dead-letter queue's consumer, src/queues/consumer.ts), once per message id: a
 * redelivery changes nothing. An organization id that names no organization (deleted since) is stored as null, so
 * the record never fails on its foreign key. One database round trip, under the platform scope.
 */
export async function recordDeadLetter(db: Database, record: DeadLetterRecord): Promise<void> {
  await scoped(db, { platform: true }, [
    db.execute(sql`insert into dead_letters (message_id, queue, type, organization_id, attempts)
      values (${record.messageId}, ${record.queue}, ${record.type},
        (select id from organizations where id = ${record.organizationId}::uuid), ${record.attempts})
      on conflict (message_id) do nothing`),
  ]);
}

export interface DeadLetterView {
  id: string;
  messageId: string;
  queue: string;
  type: string;
  organizationId: string | null;
  attempts: number;
  deadAt: string;
  resolvedAt: string | null;
  resolution: string | null;
}

const ORDER = listSort('-deadAt');

const columns = {
  id: deadLetters.id,
  messageId: deadLetters.messageId,
  queue: deadLetters.queue,
  type: deadLetters.type,
  organizationId: deadLetters.organizationId,
  attempts: deadLetters.attempts,
  deadAt: deadLetters.deadAt,
  resolvedAt: deadLetters.resolvedAt,
  resolution: deadLetters.resolution,
  cursorAt: cursorTimestamp(deadLetters.deadAt),
};

type Row = {
  [K in keyof typeof columns]: K extends 'cursorAt'
    ? string
    : (typeof deadLetters.$inferSelect)[Exclude<K, 'cursorAt'>];
};

function view(row: Row): DeadLetterView {
  return {
    id: row.id,
    messageId: row.messageId,
    queue: row.queue,
    type: row.type,
    organizationId: row.organizationId,
    attempts: row.attempts,
    deadAt: row.deadAt.toISOString(),
    resolvedAt: row.resolvedAt?.toISOString() ?? null,
    resolution: row.resolution,
  };
}

/**
 * The dead letters, newest first, with cursor pagination: the open ones (`status=open`, the default), the resolved
 * ones, or all; optionally of one queue. One database round trip, served by dead_letters_open_idx (open) or
 * dead_letters_dead_at_id_idx.
 */
export async function listDeadLetters({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: {
    status: 'open' | 'resolved' | 'all';
    queue?: DeadLetterQueue | undefined;
    limit: number;
    cursor?: string | undefined;
  };
}): Promise<{ data: DeadLetterView[]; nextCursor: string | null }> {
  const db = ctx.services.db;
  const conditions: SQL[] = [];
  if (input.status === 'open') conditions.push(isNull(deadLetters.resolvedAt));
  if (input.status === 'resolved') conditions.push(isNotNull(deadLetters.resolvedAt));
  if (input.queue !== undefined) conditions.push(eq(deadLetters.queue, input.queue));
  if (input.cursor !== undefined) {
    conditions.push(keysetAfter(deadLetters.deadAt, deadLetters.id, decodeCursor(input.cursor), ORDER));
  }
  const [rows] = await scoped(db, { platform: true }, [
    db
      .select(columns)
      .from(deadLetters)
      .where(and(...conditions))
      .orderBy(desc(deadLetters.deadAt), desc(deadLetters.id))
      .limit(input.limit + 1),
  ]);
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    data: page.map(view),
    nextCursor: rows.length > input.limit && last ? encodeCursor({ at: last.cursorAt, id: last.id }) : null,
  };
}

function deadLetterNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No dead letter with this id.' });
}

/**
 * Marks a dead letter resolved (`resolution`: `discarded`, or `redelivered` when the operator re-sent its work by
 * other means) with the administrator and a reason, in the platform audit log (`platform.dead_letter_resolved`) in
 * the same statement. A resolved one answers 409. One database round trip.
 */
export async function resolveDeadLetter({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; resolution: 'discarded' | 'redelivered'; reason: string };
}): Promise<DeadLetterView> {
  const db = ctx.services.db;
  const admin = principalOf({ var: { principal: ctx.principal } });
  const id = input.id.toLowerCase();
  const [updated, found] = await scoped(db, { platform: true }, [
    db
      .update(deadLetters)
      .set({ resolvedAt: sql`now()`, resolvedBy: admin.userId, resolution: input.resolution })
      .where(and(eq(deadLetters.id, id), isNull(deadLetters.resolvedAt)))
      .returning(columns),
    db.select({ id: deadLetters.id }).from(deadLetters).where(eq(deadLetters.id, id)),
    db.execute(
      auditInsertWhen(
        ctx.client,
        {
          organizationId: null,
          actor: { type: 'user', userId: admin.userId },
          action: 'platform.dead_letter_resolved',
          target: { type: 'dead_letter', id },
          metadata: { resolution: input.resolution, reason: input.reason },
        },
        sql`exists (select 1 from dead_letters where id = ${id}::uuid and resolved_by = ${admin.userId}::uuid
          and resolved_at = now())`,
      ),
    ),
  ]);
  const [row] = updated;
  if (row !== undefined) return view(row);
  if (found.length === 0) throw deadLetterNotFound();
  throw new ApiError('conflict', { detail: 'This dead letter is resolved already.' });
}
