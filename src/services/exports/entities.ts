import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { cursorTimestamp } from '../../lib/cursor.ts';
import { csvRow } from '../../lib/csv.ts';
import { isoText } from '../outbox/views.ts';

/** How a keyset column is compared: its SQL type for the cursor's text. */
type KeyType = 'uuid' | 'int' | 'bigint' | 'timestamptz';

interface KeyColumn {
  /** The column of the alias `r`, e.g. `r.id` (fixed identifiers of this file, never input). */
  column: string;
  type: KeyType;
}

/**
 * One kind of row the organization export writes: a JSON list in the document, or one CSV file. `fields` are what a
 * record holds, in order (the CSV header), each an SQL expression over the alias `r` (and the joins of `from`).
 * Every field is listed here on purpose: a column added to a table later is not exported until someone adds it, so no
 * secret can slip in (webhook signing secrets, password hashes, MFA secrets, tokens and their hashes, Stripe
 * checkout URLs, client address keys never appear).
 */
export interface ExportEntity {
  /** The JSON key and the CSV file name (`<name>.csv`). */
  name: string;
  /** `<table> r` and its joins. */
  from: string;
  /** The keyset order: an index of the table leads with organization_id and then these columns. */
  keys: readonly KeyColumn[];
  /**
   * True when that index stores the columns DESC NULLS LAST: an ascending read of it would be ASC NULLS
   * FIRST, which PostgreSQL cannot take from the index, so every page would sort all the organization's rows.
   */
  descending?: boolean;
  /** Each field's SQL: a column (or expression) as text, or a timestamp made by `at`. */
  fields: readonly (readonly [name: string, expression: string | SQL])[];
}

/** A timestamp field: ISO 8601 UTC with milliseconds (`isoText`), as every API response writes it. */
const at = (column: string): SQL => isoText(sql.raw(column));

/** The entities in the order they are written (the JSON document's keys, the CSV files). */
export const EXPORT_ENTITIES: readonly ExportEntity[] = [
  {
    name: 'events',
    from: 'events r',
    keys: [{ column: 'r.id', type: 'uuid' }],
    fields: [
      ['id', 'r.id'],
      ['slug', 'r.slug'],
      ['title', 'r.title'],
      ['description', 'r.description'],
      ['status', 'r.status'],
      ['visibility', 'r.visibility'],
      ['timezone', 'r.timezone'],
      ['startsAt', at('r.starts_at')],
      ['endsAt', at('r.ends_at')],
      ['venue', 'r.venue'],
      ['onlineUrl', 'r.online_url'],
      ['categories', 'r.categories'],
      ['coverImageUrl', 'r.cover_image_url'],
      ['capacity', 'r.capacity'],
      ['sold', 'r.sold'],
      ['held', 'r.held'],
      ['seriesId', 'r.series_id'],
      ['transfersAllowed', 'r.transfers_allowed'],
      ['buyerCancellation', 'r.buyer_cancellation'],
      ['publishedAt', at('r.published_at')],
      ['cancelledAt', at('r.cancelled_at')],
      ['createdAt', at('r.created_at')],
      ['updatedAt', at('r.updated_at')],
    ],
  },
  {
    name: 'ticketTypes',
    from: 'ticket_types r',
    keys: [{ column: 'r.id', type: 'uuid' }],
    fields: [
      ['id', 'r.id'],
      ['eventId', 'r.event_id'],
      ['name', 'r.name'],
      ['description', 'r.description'],
      ['price', 'r.price'],
      ['currency', 'r.currency'],
      ['taxRate', 'r.tax_rate'],
      ['quantity', 'r.quantity'],
      ['sold', 'r.sold'],
      ['held', 'r.held'],
      ['salesStartAt', at('r.sales_start_at')],
      ['salesEndAt', at('r.sales_end_at')],
      ['minPerOrder', 'r.min_per_order'],
      ['maxPerOrder', 'r.max_per_order'],
      ['hidden', 'r.hidden'],
      ['accessCode', 'r.access_code'],
      ['sortOrder', 'r.sort_order'],
      ['createdAt', at('r.created_at')],
      ['updatedAt', at('r.updated_at')],
    ],
  },
  {
    name: 'bookings',
    from: 'bookings r',
    keys: [{ column: 'r.id', type: 'uuid' }],
    fields: [
      ['id', 'r.id'],
      ['eventId', 'r.event_id'],
      ['status', 'r.status'],
      ['buyerName', 'r.buyer_name'],
      ['buyerEmail', 'r.buyer_email'],
      [
        'items',
        `(select coalesce(json_agg(json_build_object('ticketTypeId', i.ticket_type_id, 'quantity', i.quantity,
          'unitPrice', i.unit_price) order by i.ticket_type_id), '[]'::json) from booking_items i
          where i.organization_id = r.organization_id and i.booking_id = r.id)`,
      ],
      ['total', 'r.total'],
      ['currency', 'r.currency'],
      ['discountCode', 'r.discount_code'],
      ['discountAmount', 'r.discount_amount'],
      ['refundedAmount', 'r.refunded_amount'],
      ['provider', 'r.provider'],
      ['answers', 'r.answers'],
      ['expiresAt', at('r.expires_at')],
      ['confirmedAt', at('r.confirmed_at')],
      ['cancelledAt', at('r.cancelled_at')],
      ['createdAt', at('r.created_at')],
      ['updatedAt', at('r.updated_at')],
    ],
  },
  {
    name: 'attendees',
    from: 'attendees r',
    // attendees_organization_id_booking_id_idx: (organization_id, booking_id, position).
    keys: [
      { column: 'r.booking_id', type: 'uuid' },
      { column: 'r.position', type: 'int' },
    ],
    fields: [
      ['id', 'r.id'],
      ['bookingId', 'r.booking_id'],
      ['ticketTypeId', 'r.ticket_type_id'],
      ['position', 'r.position'],
      ['name', 'r.name'],
      ['email', 'r.email'],
      ['ticketCode', 'r.ticket_code'],
      ['status', 'r.status'],
      ['answers', 'r.answers'],
      ['checkedInAt', at('r.checked_in_at')],
      ['checkedInBy', 'r.checked_in_by'],
      ['transferCount', 'r.transfer_count'],
      ['cancelledAt', at('r.cancelled_at')],
      ['createdAt', at('r.created_at')],
      ['updatedAt', at('r.updated_at')],
    ],
  },
  {
    name: 'payments',
    from: 'payments r',
    keys: [{ column: 'r.id', type: 'uuid' }],
    fields: [
      ['id', 'r.id'],
      ['bookingId', 'r.booking_id'],
      ['provider', 'r.provider'],
      ['status', 'r.status'],
      ['amount', 'r.amount'],
      ['currency', 'r.currency'],
      ['refundedAmount', 'r.refunded_amount'],
      ['checkoutSessionId', 'r.checkout_session_id'],
      ['paymentIntentId', 'r.payment_intent_id'],
      ['createdAt', at('r.created_at')],
      ['updatedAt', at('r.updated_at')],
    ],
  },
  {
    name: 'refunds',
    from: 'refunds r',
    // refunds_organization_id_booking_id_idx: (organization_id, booking_id); the id orders a booking's few refunds.
    keys: [
      { column: 'r.booking_id', type: 'uuid' },
      { column: 'r.id', type: 'uuid' },
    ],
    fields: [
      ['id', 'r.id'],
      ['bookingId', 'r.booking_id'],
      ['paymentId', 'r.payment_id'],
      ['amount', 'r.amount'],
      ['currency', 'r.currency'],
      ['status', 'r.status'],
      ['reason', 'r.reason'],
      ['attendeeIds', 'r.attendee_ids'],
      ['providerRefundId', 'r.provider_refund_id'],
      ['createdBy', 'r.created_by'],
      ['createdAt', at('r.created_at')],
      ['updatedAt', at('r.updated_at')],
    ],
  },
  {
    name: 'members',
    from: `memberships r join users u on u.id = r.user_id
      join roles ro on ro.organization_id = r.organization_id and ro.id = r.role_id`,
    // The primary key (organization_id, user_id).
    keys: [{ column: 'r.user_id', type: 'uuid' }],
    fields: [
      ['userId', 'r.user_id'],
      ['email', 'u.email'],
      ['name', 'coalesce(r.display_name, u.name)'],
      ['role', 'ro.key'],
      ['status', 'r.status'],
      ['invitedBy', 'r.invited_by'],
      ['lastLoginAt', at('r.last_login_at')],
      ['createdAt', at('r.created_at')],
      ['updatedAt', at('r.updated_at')],
    ],
  },
  {
    name: 'roles',
    from: 'roles r',
    keys: [{ column: 'r.id', type: 'uuid' }],
    fields: [
      ['id', 'r.id'],
      ['key', 'r.key'],
      ['name', 'r.name'],
      ['description', 'r.description'],
      ['permissions', 'r.permissions'],
      ['builtIn', 'r.built_in'],
      ['createdAt', at('r.created_at')],
      ['updatedAt', at('r.updated_at')],
    ],
  },
  {
    name: 'webhookEndpoints',
    from: 'webhook_endpoints r',
    keys: [{ column: 'r.id', type: 'uuid' }],
    fields: [
      ['id', 'r.id'],
      ['url', 'r.url'],
      ['description', 'r.description'],
      ['eventTypes', 'r.event_types'],
      ['enabled', 'r.enabled'],
      ['disabledReason', 'r.disabled_reason'],
      ['failingSince', at('r.failing_since')],
      ['createdAt', at('r.created_at')],
      ['updatedAt', at('r.updated_at')],
    ],
  },
  {
    name: 'auditLog',
    from: 'audit_logs r',
    // audit_logs_organization_id_created_at_idx: (organization_id, created_at desc, id desc), read in its order
    // (newest first, as the audit log API lists it).
    keys: [
      { column: 'r.created_at', type: 'timestamptz' },
      { column: 'r.id', type: 'bigint' },
    ],
    descending: true,
    fields: [
      ['id', 'r.id::text'],
      ['createdAt', at('r.created_at')],
      ['actorType', 'r.actor_type'],
      ['actorUserId', 'r.actor_user_id'],
      ['actorApiKeyId', 'r.actor_api_key_id'],
      ['action', 'r.action'],
      ['targetType', 'r.target_type'],
      ['targetId', 'r.target_id'],
      ['ip', 'r.ip'],
      ['userAgent', 'r.user_agent'],
      ['requestId', 'r.request_id'],
      ['correlationId', 'r.correlation_id'],
      ['metadata', 'r.metadata'],
    ],
  },
];

/** The JSON document's header: what the export is and of which organization (before the first list). */
export function organizationQuery(db: Database, organizationId: string) {
  return db.execute<{ doc: string }>(sql`select json_build_object('id', o.id, 'slug', o.slug, 'name', o.name,
      'plan', o.plan, 'branding', o.branding, 'createdAt', ${at('o.created_at')})::text as doc
    from organizations o where o.id = ${organizationId}`);
}

/** A page of an entity's rows: the record as JSON text and the keyset columns as text. */
export interface EntityRow {
  doc: string;
  keys: string[];
}

function keyText(key: KeyColumn): SQL {
  return key.type === 'timestamptz' ? cursorTimestamp(sql.raw(key.column)) : sql.raw(`${key.column}::text`);
}

/**
 * The next `limit` rows of `entity` after `cursor` (the keyset columns of the last row written, null for the first
 * page), in keyset order, as one statement: `select keys, json_build_object(fields)::text ... where
 * r.organization_id = $1 and (keys) > ($cursor) order by keys limit $n` (`<` and `desc nulls last` for a descending entity),
 * so each page is one index range scan.
 */
export function entityPage(
  db: Database,
  organizationId: string,
  entity: ExportEntity,
  cursor: readonly string[] | null,
  limit: number,
) {
  const fields = sql.join(
    entity.fields.map(
      ([name, expression]) =>
        sql`${sql.raw(`'${name}'`)}, ${typeof expression === 'string' ? sql.raw(expression) : expression}`,
    ),
    sql`, `,
  );
  const keyColumns = sql.raw(entity.keys.map((key) => key.column).join(', '));
  const keys = sql.join(
    entity.keys.map((key, index) => sql`${keyText(key)} as ${sql.identifier(`k${String(index)}`)}`),
    sql`, `,
  );
  const after =
    cursor === null
      ? sql``
      : sql`and (${keyColumns}) ${sql.raw(entity.descending === true ? '<' : '>')} (${sql.join(
          entity.keys.map((key, index) => sql`${cursor[index] ?? null}::${sql.raw(key.type)}`),
          sql`, `,
        )})`;
  const order = sql.raw(
    entity.keys.map((key) => (entity.descending === true ? `${key.column} desc nulls last` : key.column)).join(', '),
  );
  return db.execute<Record<string, string>>(sql`select ${keys}, json_build_object(${fields})::text as doc
    from ${sql.raw(entity.from)} where r.organization_id = ${organizationId} ${after}
    order by ${order} limit ${limit}`);
}

/** The rows of a page result as `EntityRow`s. */
export function entityRows(entity: ExportEntity, rows: readonly Record<string, string>[]): EntityRow[] {
  return rows.map((row) => ({
    doc: row.doc ?? 'null',
    keys: entity.keys.map((_, index) => row[`k${String(index)}`] ?? ''),
  }));
}

/** The CSV header line of an entity. */
export function csvHeader(entity: ExportEntity): string {
  return csvRow(entity.fields.map(([name]) => name));
}

/** One record as a CSV line: strings as they are, numbers and booleans as text, lists and objects as JSON. */
export function csvRecord(entity: ExportEntity, doc: string): string {
  const record = JSON.parse(doc) as Record<string, unknown>;
  return csvRow(
    entity.fields.map(([name]) => {
      const value = record[name];
      if (value === null || value === undefined) return null;
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      return JSON.stringify(value);
    }),
  );
}
