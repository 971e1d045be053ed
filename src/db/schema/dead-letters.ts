import { sql } from 'drizzle-orm';
import { foreignKey, index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { organizations } from './organizations.ts';
import { users } from './users.ts';

/**
 * The messages the queues gave up on (issue #16 part 1): one row per message that reached the dead-letter queue,
 * written by its consumer (src/queues/consumer.ts), so the platform dashboard counts them per day and queue and a
 * platform administrator can list and resolve them. Only the envelope is kept (its id, type, organization and the
 * attempts), never the payload: an email's payload carries personal data and one-time links. Platform data: row-level
 * security lets only the platform scope see or write it (drizzle/sql/security.sql). It stays on the control database
 * when an organization moves (dev/move-organization.ts CONTROL_TABLES) and goes with a purged organization (cascade).
 */
export const deadLetters = pgTable(
  'dead_letters',
  {
    id: uuid().primaryKey().defaultRandom(),
    /** The envelope's id (`QueueMessage.id`), or the queue's message id for a body that is no envelope. */
    messageId: text().notNull(),
    /** The queue the message failed on, by its type: email, webhooks, audit, exports, or unknown. */
    queue: text().notNull(),
    /** The envelope's `type` (`invalid` for a body that is no envelope). */
    type: text().notNull(),
    organizationId: uuid(),
    /** The dead-letter queue's delivery attempts when recorded (the original queue's retries are not reported). */
    attempts: integer().notNull(),
    deadAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    resolvedAt: timestamp({ withTimezone: true }),
    resolvedBy: uuid(),
    resolution: text(),
  },
  (table) => [
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    foreignKey({ columns: [table.resolvedBy], foreignColumns: [users.id] }).onDelete('set null'),
    // A redelivered dead letter is recorded once.
    uniqueIndex('dead_letters_message_id_key').on(table.messageId),
    // Serves the list (newest first, keyset on dead_at, id) and the rollup's count of a day.
    index('dead_letters_dead_at_id_idx').on(table.deadAt.desc(), table.id.desc()),
    // Serves the list of open ones.
    index('dead_letters_open_idx')
      .on(table.deadAt.desc(), table.id.desc())
      .where(sql`${table.resolvedAt} is null`),
  ],
);

export type DeadLetter = typeof deadLetters.$inferSelect;
