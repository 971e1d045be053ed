import type { Database } from '../../db/client.ts';
import { auditLogs } from '../../db/schema/index.ts';
import type { ClientInfo } from '../../lib/client.ts';

export type ActorType = 'user' | 'platform_admin' | 'system' | 'anonymous';

export interface AuditEntry {
  /** Null for a platform event (a platform administrator's sign-in): insert it under the `{ platform: true }` scope. */
  organizationId: string | null;
  actor: { type: ActorType; userId?: string | null };
  /** `<area>.<verb>`, e.g. `auth.login`, `membership.updated`, `role.deleted`. */
  action: string;
  target?: { type: string; id: string };
  /** Never secrets: no passwords, tokens or hashes. */
  metadata?: Record<string, unknown>;
}

/**
 * The insert of one audit row, to put in the same batch as the change it records: both commit or neither does.
 *
 * @example
 * await scoped(db, { organizationId }, [db.update(memberships)..., auditInsert(db, client, { ... })]);
 */
export function auditInsert(db: Database, client: ClientInfo, entry: AuditEntry) {
  return db.insert(auditLogs).values({
    organizationId: entry.organizationId,
    actorType: entry.actor.type,
    actorUserId: entry.actor.userId ?? null,
    action: entry.action,
    targetType: entry.target?.type ?? null,
    targetId: entry.target?.id ?? null,
    ip: client.ip,
    userAgent: client.userAgent,
    requestId: client.requestId,
    correlationId: client.correlationId ?? null,
    metadata: entry.metadata ?? {},
  });
}
