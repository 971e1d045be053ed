import { bigserial, foreignKey, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { organizations } from './organizations.ts';

/**
 * Append-only record of every state change that matters (who, what, on what, from where). The application role may
 * only INSERT and SELECT; a trigger refuses UPDATE and DELETE for everyone (see drizzle/sql/security.sql).
 */
export const auditLogs = pgTable(
  'audit_logs',
  {
    id: bigserial({ mode: 'bigint' }).primaryKey(),
    // Null for platform events (platform-administrator sign-ins and the like), visible only in platform mode.
    organizationId: uuid(),
    actorUserId: uuid(),
    // 'user', 'api_key', 'platform_admin', 'system' or 'anonymous'.
    actorType: text().notNull(),
    // The API key the actor used (actor type 'api_key'; actor_user_id is then the key's creator).
    actorApiKeyId: uuid(),
    action: text().notNull(),
    targetType: text(),
    targetId: text(),
    ip: text(),
    userAgent: text(),
    // The server's id of the request; the caller's own X-Request-Id, if it sent one, is only the correlation id.
    requestId: text(),
    correlationId: text(),
    metadata: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    // Serves the audit list, newest first with a cursor: WHERE organization_id = $1 ORDER BY created_at DESC, id DESC.
    index('audit_logs_organization_id_created_at_idx').on(
      table.organizationId,
      table.createdAt.desc(),
      table.id.desc(),
    ),
    // Serves the actor filter: WHERE organization_id = $1 AND actor_user_id = $2.
    index('audit_logs_organization_id_actor_user_id_idx').on(table.organizationId, table.actorUserId),
    // Serves the action filter: WHERE organization_id = $1 AND action = $2.
    index('audit_logs_organization_id_action_idx').on(table.organizationId, table.action),
  ],
);

export type AuditLog = typeof auditLogs.$inferSelect;
