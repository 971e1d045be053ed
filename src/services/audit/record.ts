import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { auditLogs } from '../../db/schema/index.ts';
import { MAX_CLIENT_ADDRESS, MAX_USER_AGENT, type ClientInfo } from '../../lib/client.ts';
import { createLogger } from '../../lib/logger.ts';
import { MAX_CORRELATION_ID } from '../../middleware/request-context.ts';
import type { Principal } from '../auth/tokens.ts';
import {
  boundedMetadata,
  clipText,
  MAX_AUDIT_ACTION,
  MAX_AUDIT_REQUEST_ID,
  MAX_AUDIT_TARGET_ID,
  MAX_AUDIT_TARGET_TYPE,
} from './bounds.ts';

export type ActorType = 'user' | 'api_key' | 'platform_admin' | 'system' | 'anonymous';

/**
 * Who acted: for `api_key`, `userId` is the key's creator and `apiKeyId` the key. `impersonation`: a platform
 * administrator acting as the member `userId` (stored in the row's metadata as `impersonation: { id, by }`).
 */
export interface Actor {
  type: ActorType;
  userId?: string | null;
  apiKeyId?: string | null;
  impersonation?: { id: string; actorUserId: string };
}

/**
 * The actor of an authenticated request: the member, or the API key they created (`api_key`, with its id); with an
 * impersonation token, the member with the impersonating administrator beside them.
 */
export function actorOf(principal: Principal): Actor {
  if (principal.credential === 'api_key') {
    return { type: 'api_key', userId: principal.userId, apiKeyId: principal.apiKey?.id ?? null };
  }
  const impersonation = principal.impersonation;
  return impersonation === undefined
    ? { type: 'user', userId: principal.userId }
    : {
        type: 'user',
        userId: principal.userId,
        impersonation: { id: impersonation.id, actorUserId: impersonation.actorUserId },
      };
}

/**
 * What the actor adds to a row's metadata: an impersonation as `impersonation: { id, by }` (the administrator), so
 * the organization's log shows who really acted. Spread it into the metadata of an audit row written by hand (SQL).
 */
export function actorMetadata(actor: Actor): Record<string, unknown> {
  const impersonation = actor.impersonation;
  return impersonation === undefined ? {} : { impersonation: { id: impersonation.id, by: impersonation.actorUserId } };
}

export interface AuditEntry {
  /** Null for a platform event (a platform administrator's sign-in): insert it under the `{ platform: true }` scope. */
  organizationId: string | null;
  actor: Actor;
  /** `<area>.<verb>`, e.g. `auth.login`, `membership.updated`, `role.deleted`. */
  action: string;
  target?: { type: string; id: string };
  /**
   * Never secrets: no passwords, tokens or hashes. At most MAX_AUDIT_METADATA characters as JSON: larger metadata is
   * stored as a `{ truncated, length, keys }` marker, with a warning logged (see `auditMetadata`).
   */
  metadata?: Record<string, unknown>;
}

/**
 * The metadata to store: within MAX_AUDIT_METADATA as JSON. Larger metadata is a bug of the writer, but refusing it
 * would fail the change it records (the audit row shares its batch), so it is replaced by a marker naming its size
 * and first keys, and a warning is logged with the request id so the writer gets fixed.
 */
export function auditMetadata(
  client: Pick<ClientInfo, 'requestId'>,
  action: string,
  metadata: Record<string, unknown>,
): Record<string, unknown> {
  const bounded = boundedMetadata(metadata);
  if (bounded.trimmed) {
    createLogger({ requestId: client.requestId }).warn('audit metadata over the bound, stored truncated', {
      action,
      length: bounded.length,
    });
  }
  return bounded.metadata;
}

/** The client fields of an audit row, each within its column's bound (see src/services/audit/bounds.ts). */
export function auditClient(client: ClientInfo) {
  return {
    ip: clipText(client.ip, MAX_CLIENT_ADDRESS),
    userAgent: clipText(client.userAgent, MAX_USER_AGENT),
    requestId: clipText(client.requestId, MAX_AUDIT_REQUEST_ID),
    correlationId: clipText(client.correlationId ?? null, MAX_CORRELATION_ID),
  };
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
    actorApiKeyId: entry.actor.apiKeyId ?? null,
    action: clipText(entry.action, MAX_AUDIT_ACTION),
    targetType: clipText(entry.target?.type ?? null, MAX_AUDIT_TARGET_TYPE),
    targetId: clipText(entry.target?.id ?? null, MAX_AUDIT_TARGET_ID),
    ...auditClient(client),
    metadata: auditMetadata(client, entry.action, { ...entry.metadata, ...actorMetadata(entry.actor) }),
  });
}

/**
 * An audit row written only if `condition` (a boolean SQL expression) holds when its statement runs: put after the
 * change in the same batch, with a condition that sees the change (the batch is one transaction), so a change that
 * matched no row leaves no audit row; or one row per row of `from` (a data-modifying CTE of the same statement).
 * Same fields as `auditInsert`.
 */
export function auditInsertWhen(client: ClientInfo, entry: AuditEntry, condition: SQL, from?: SQL): SQL {
  const { ip, userAgent, requestId, correlationId } = auditClient(client);
  const metadata = auditMetadata(client, entry.action, { ...entry.metadata, ...actorMetadata(entry.actor) });
  return sql`insert into audit_logs (organization_id, actor_type, actor_user_id, actor_api_key_id, action, target_type,
      target_id, ip, user_agent, request_id, correlation_id, metadata)
    select ${entry.organizationId}::uuid, ${entry.actor.type}::text, ${entry.actor.userId ?? null}::uuid,
           ${entry.actor.apiKeyId ?? null}::uuid, ${clipText(entry.action, MAX_AUDIT_ACTION)}::text,
           ${clipText(entry.target?.type ?? null, MAX_AUDIT_TARGET_TYPE)}::text,
           ${clipText(entry.target?.id ?? null, MAX_AUDIT_TARGET_ID)}::text, ${ip}::text, ${userAgent}::text,
           ${requestId}::text, ${correlationId}::text, ${JSON.stringify(metadata)}::jsonb
     ${from === undefined ? sql`` : sql`from ${from}`}
     where ${condition}`;
}
