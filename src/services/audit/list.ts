import { and, asc, desc, eq, gte, isNull, like, lt, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { auditLogs, type AuditLog } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { cursorTimestamp, listSort, type ListSort } from '../../lib/cursor.ts';
import { AUDIT_CELL_BOUNDS, boundedMetadata, clipText } from './bounds.ts';
import { escapeLike } from '../../lib/text.ts';

/** The filters of the audit list and its export. */
export interface AuditFilters {
  /** The acting user's id. */
  actor?: string | undefined;
  /** An exact action (`booking.cancelled`) or a prefix ending in `.*` (`booking.*`). */
  action?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  /** Inclusive lower bound on the time. */
  from?: Date | undefined;
  /** Exclusive upper bound on the time. */
  to?: Date | undefined;
}

export interface AuditListInput extends AuditFilters {
  limit: number;
  cursor?: string | undefined;
  /** `-createdAt` (default, newest first) or `createdAt`. */
  sort?: AuditSort | undefined;
}

export type AuditSort = '-createdAt' | 'createdAt';
const DEFAULT_AUDIT_SORT: AuditSort = '-createdAt';
const NEWEST_FIRST = listSort(DEFAULT_AUDIT_SORT);

/** An audit row as the API shows it (it holds no secrets by design: see src/services/audit/record.ts). */
export interface AuditEntryView {
  id: string;
  createdAt: string;
  actor: { type: string; userId: string | null; apiKeyId: string | null };
  action: string;
  target: { type: string; id: string | null } | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  correlationId: string | null;
  metadata: Record<string, unknown>;
}

/**
 * The API's view of a row, each field within its bound (src/services/audit/bounds.ts). The writers keep to the bounds;
 * clipping here too makes them hold for rows written before the bounds existed or by hand, so the list's field bounds
 * and the export's `maxLength` are true for whatever the table holds.
 */
export function toAuditEntryView(row: AuditLog): AuditEntryView {
  const bound = AUDIT_CELL_BOUNDS;
  return {
    id: row.id.toString(),
    createdAt: row.createdAt.toISOString(),
    actor: { type: clipText(row.actorType, bound.actor_type), userId: row.actorUserId, apiKeyId: row.actorApiKeyId },
    action: clipText(row.action, bound.action),
    target:
      row.targetType === null
        ? null
        : { type: clipText(row.targetType, bound.target_type), id: clipText(row.targetId, bound.target_id) },
    ip: clipText(row.ip, bound.ip),
    userAgent: clipText(row.userAgent, bound.user_agent),
    requestId: clipText(row.requestId, bound.request_id),
    correlationId: clipText(row.correlationId, bound.correlation_id),
    metadata: boundedMetadata(row.metadata).metadata,
  };
}

/**
 * The keyset position of the list: (created_at, id) of the last row, the order of the index
 * audit_logs_organization_id_created_at_idx (read backwards for newest first). The timestamp travels with
 * microseconds as PostgreSQL wrote it. The list's cursor also names its sort (see src/lib/cursor.ts). Opaque to
 * clients: base64url of a JSON array.
 */
export interface AuditCursor {
  at: string;
  id: string;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const BIGINT = /^[1-9]\d{0,18}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function encodeAuditCursor(cursor: AuditCursor, sort?: ListSort): string {
  return btoa(JSON.stringify(sort === undefined ? [cursor.at, cursor.id] : [cursor.at, cursor.id, sort.name]))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
}

/** Reads a list cursor (400 when malformed, or made under another sort than `sort`; none means the default). */
export function decodeAuditCursor(raw: string, sort: ListSort = NEWEST_FIRST): AuditCursor {
  const malformed = () =>
    new ApiError('validation_failed', {
      detail: 'The cursor is malformed; pass the `nextCursor` of a previous page unchanged.',
      errors: [{ pointer: '/query/cursor', message: 'Malformed cursor' }],
    });
  if (!BASE64URL.test(raw)) throw malformed();
  let decoded: unknown;
  try {
    decoded = JSON.parse(atob(raw.replaceAll('-', '+').replaceAll('_', '/')));
  } catch {
    throw malformed();
  }
  if (
    !Array.isArray(decoded) ||
    (decoded.length !== 2 && decoded.length !== 3) ||
    (decoded.length === 3 && typeof decoded[2] !== 'string') ||
    typeof decoded[0] !== 'string' ||
    typeof decoded[1] !== 'string' ||
    !TIMESTAMP.test(decoded[0]) ||
    Number.isNaN(Date.parse(`${decoded[0].slice(0, 23)}Z`)) ||
    !BIGINT.test(decoded[1]) ||
    BigInt(decoded[1]) > 9_223_372_036_854_775_807n
  ) {
    throw malformed();
  }
  const madeUnder: unknown = decoded[2] ?? DEFAULT_AUDIT_SORT;
  if (madeUnder !== sort.name) {
    throw new ApiError('validation_failed', {
      detail:
        `This cursor belongs to sort=${String(madeUnder).slice(0, 40)}, not sort=${sort.name}: pass the sort the ` +
        'cursor was made with, or start again without a cursor.',
      errors: [{ pointer: '/query/cursor', message: 'The cursor belongs to another sort' }],
    });
  }
  return { at: decoded[0], id: decoded[1] };
}

/** The WHERE conditions of the filters, always with the tenant predicate (null: the platform's own rows). */
export function auditConditions(organizationId: string | null, filters: AuditFilters): SQL[] {
  const conditions: SQL[] = [
    organizationId === null ? isNull(auditLogs.organizationId) : eq(auditLogs.organizationId, organizationId),
  ];
  if (filters.actor !== undefined) conditions.push(eq(auditLogs.actorUserId, filters.actor.toLowerCase()));
  if (filters.action !== undefined) {
    conditions.push(
      filters.action.endsWith('.*')
        ? like(auditLogs.action, `${escapeLike(filters.action.slice(0, -1))}%`)
        : eq(auditLogs.action, filters.action),
    );
  }
  if (filters.targetType !== undefined) conditions.push(eq(auditLogs.targetType, filters.targetType));
  if (filters.targetId !== undefined) conditions.push(eq(auditLogs.targetId, filters.targetId));
  if (filters.from !== undefined) conditions.push(gte(auditLogs.createdAt, filters.from));
  if (filters.to !== undefined) conditions.push(lt(auditLogs.createdAt, filters.to));
  return conditions;
}

/** One page of audit rows after `after`, newest first unless `sort` says otherwise, with each row's cursor position. */
export function auditPageQuery(
  db: Database,
  organizationId: string | null,
  filters: AuditFilters,
  after: AuditCursor | null,
  size: number,
  sort: ListSort = NEWEST_FIRST,
) {
  const conditions = auditConditions(organizationId, filters);
  if (after) {
    conditions.push(
      sort.descending
        ? sql`(${auditLogs.createdAt}, ${auditLogs.id}) < (${after.at}::timestamptz, ${after.id}::bigint)`
        : sql`(${auditLogs.createdAt}, ${auditLogs.id}) > (${after.at}::timestamptz, ${after.id}::bigint)`,
    );
  }
  return db
    .select({
      row: auditLogs,
      cursorAt: cursorTimestamp(auditLogs.createdAt),
    })
    .from(auditLogs)
    .where(and(...conditions))
    .orderBy(
      ...(sort.descending
        ? [desc(auditLogs.createdAt), desc(auditLogs.id)]
        : [asc(auditLogs.createdAt), asc(auditLogs.id)]),
    )
    .limit(size);
}

/**
 * The organization's audit log, newest first (oldest first with sort=createdAt), filtered, with cursor pagination (one round trip). Tenant scope and
 * the organization predicate: another organization's rows never show, and platform rows (no organization) neither.
 */
export async function listAuditLogs({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: AuditListInput;
}): Promise<{ data: AuditEntryView[]; nextCursor: string | null }> {
  const tenant = requireTenant(ctx);
  return auditPage(ctx, { organizationId: tenant.id }, tenant.id, input);
}

/**
 * The platform's own audit log (issue #16 part 1): the rows of no organization (platform administrators' sign-ins and
 * actions), with the same filters, sorts and cursors as an organization's. Platform scope, one round trip.
 */
export async function listPlatformAuditLogs({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: AuditListInput;
}): Promise<{ data: AuditEntryView[]; nextCursor: string | null }> {
  return auditPage(ctx, { platform: true }, null, input);
}

async function auditPage(
  ctx: ServiceContext,
  scope: Parameters<typeof scoped>[1],
  organizationId: string | null,
  input: AuditListInput,
): Promise<{ data: AuditEntryView[]; nextCursor: string | null }> {
  const sort = listSort(input.sort ?? DEFAULT_AUDIT_SORT);
  const after = input.cursor === undefined ? null : decodeAuditCursor(input.cursor, sort);
  const { db } = ctx.services;
  const [rows] = await scoped(db, scope, [auditPageQuery(db, organizationId, input, after, input.limit + 1, sort)]);
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    data: page.map(({ row }) => toAuditEntryView(row)),
    nextCursor:
      rows.length > input.limit && last
        ? encodeAuditCursor({ at: last.cursorAt, id: last.row.id.toString() }, sort)
        : null,
  };
}
