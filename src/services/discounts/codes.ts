import { and, asc, eq, getTableColumns, sql, type SQL } from 'drizzle-orm';
import { discountCodes, events, ticketTypes, type DiscountCode } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditInsert } from '../audit/record.ts';
import { abortLabel, actorOf, eventNotFound, fieldError, givenFields, GUARD_LABEL_PREFIX } from '../events/shared.ts';
import { databaseError, UNIQUE_VIOLATION } from '../users/guards.ts';
import { uuidArray } from '../../db/params.ts';
import { activeUses, normalizeCode } from './pricing.ts';

/** Discount codes per event (the list is not paginated). Mirrors MAX_DISCOUNT_CODES_PER_EVENT in the routes. */
export const MAX_DISCOUNT_CODES = 500;

export interface DiscountCodeInput {
  eventId: string;
  code: string;
  kind: 'percent' | 'fixed';
  percent?: number | undefined;
  amounts?: Partial<Record<string, number>> | undefined;
  ticketTypeIds?: string[] | undefined;
  unlocksHidden?: boolean | undefined;
  minQuantity?: number | undefined;
  startsAt?: string | null | undefined;
  endsAt?: string | null | undefined;
  maxUses?: number | null | undefined;
  maxPerBuyer?: number | null | undefined;
}

export interface DiscountCodeView {
  id: string;
  eventId: string;
  code: string;
  kind: 'percent' | 'fixed';
  percent: number | null;
  amounts: Record<string, number>;
  ticketTypeIds: string[];
  unlocksHidden: boolean;
  minQuantity: number;
  startsAt: string | null;
  endsAt: string | null;
  maxUses: number | null;
  maxPerBuyer: number | null;
  uses: number;
  createdAt: string;
}

/** A code's row with its uses (activeUses: its pending and confirmed bookings). */
export function toDiscountCodeView(row: DiscountCode & { uses: number }): DiscountCodeView {
  return {
    id: row.id,
    eventId: row.eventId,
    code: row.code,
    kind: row.kind,
    percent: row.percent,
    amounts: row.amounts,
    ticketTypeIds: row.ticketTypeIds,
    unlocksHidden: row.unlocksHidden,
    minQuantity: row.minQuantity,
    startsAt: row.startsAt?.toISOString() ?? null,
    endsAt: row.endsAt?.toISOString() ?? null,
    maxUses: row.maxUses,
    maxPerBuyer: row.maxPerBuyer,
    uses: row.uses,
    createdAt: row.createdAt.toISOString(),
  };
}

/** The rules between fields, with the JSON pointer of the field at fault. */
function assertConsistent(input: DiscountCodeInput): void {
  if (input.kind === 'percent' && input.percent === undefined)
    throw fieldError('/body/percent', 'required for percent');
  if (input.kind === 'percent' && input.amounts !== undefined) throw fieldError('/body/amounts', 'only for fixed');
  if (input.kind === 'fixed' && input.percent !== undefined) throw fieldError('/body/percent', 'only for percent');
  if (input.kind === 'fixed' && Object.keys(input.amounts ?? {}).length === 0) {
    throw fieldError('/body/amounts', 'required for fixed: at least one currency');
  }
  assertListBounds(input);
  if (input.startsAt && input.endsAt && new Date(input.endsAt) <= new Date(input.startsAt)) {
    throw fieldError('/body/endsAt', 'endsAt must be after startsAt');
  }
  if (input.unlocksHidden === true && (input.ticketTypeIds ?? []).length === 0) {
    throw fieldError('/body/ticketTypeIds', 'unlocksHidden needs the ticket types it unlocks');
  }
}

/** The bounds of a code's lists, on creation and on change: at most 20 currencies, no ticket type listed twice. */
function assertListBounds(input: Pick<DiscountCodeInput, 'amounts' | 'ticketTypeIds'>): void {
  if (Object.keys(input.amounts ?? {}).length > 20) throw fieldError('/body/amounts', 'at most 20 currencies');
  const ticketTypeIds = (input.ticketTypeIds ?? []).map((id) => id.toLowerCase());
  if (new Set(ticketTypeIds).size !== ticketTypeIds.length) throw fieldError('/body/ticketTypeIds', 'listed twice');
}

/**
 * Creates a discount code for an event, in one round trip: a guard statement (the event is the caller's, every
 * listed ticket type is of this event, the event has fewer than MAX_DISCOUNT_CODES codes), the insert and the audit
 * row. A code the event already has (case-insensitive) answers 409.
 */
export async function createDiscountCode({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: DiscountCodeInput;
}): Promise<DiscountCodeView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const organizationId = tenant.id;
  assertConsistent(input);
  const eventId = input.eventId.toLowerCase();
  const ticketTypeIds = (input.ticketTypeIds ?? []).map((id) => id.toLowerCase());
  const id = crypto.randomUUID();
  const code = normalizeCode(input.code);
  try {
    const [, rows] = await scoped(db, { organizationId }, [
      db.execute(sql`select (case
          when not exists (select 1 from ${events} where organization_id = ${organizationId} and id = ${eventId})
            then ${GUARD_LABEL_PREFIX} || 'event_not_found'
          when (select count(*) from ${ticketTypes} where organization_id = ${organizationId} and event_id = ${eventId}
                  and id = any(${uuidArray(ticketTypeIds)})) <> ${ticketTypeIds.length}
            then ${GUARD_LABEL_PREFIX} || 'ticket_type_not_found'
          when (select count(*) from ${discountCodes} where organization_id = ${organizationId}
                  and event_id = ${eventId}) >= ${MAX_DISCOUNT_CODES}
            then ${GUARD_LABEL_PREFIX} || 'discount_code_limit'
          else '0' end)::int as guard`),
      db
        .insert(discountCodes)
        .values({
          id,
          organizationId,
          eventId,
          code,
          kind: input.kind,
          percent: input.percent ?? null,
          amounts: (input.amounts ?? {}) as Record<string, number>,
          ticketTypeIds,
          unlocksHidden: input.unlocksHidden ?? false,
          minQuantity: input.minQuantity ?? 1,
          startsAt: input.startsAt ? new Date(input.startsAt) : null,
          endsAt: input.endsAt ? new Date(input.endsAt) : null,
          maxUses: input.maxUses ?? null,
          maxPerBuyer: input.maxPerBuyer ?? null,
        })
        .returning(),
      auditInsert(db, ctx.client, {
        organizationId,
        actor: actorOf(ctx),
        action: 'discount_code.created',
        target: { type: 'discount_code', id },
        metadata: { eventId, code, kind: input.kind },
      }),
    ]);
    const row = rows[0];
    if (row === undefined) throw new Error('discount code insert returned nothing');
    return toDiscountCodeView({ ...row, uses: 0 });
  } catch (error) {
    const label = abortLabel(error);
    if (label === 'event_not_found') throw eventNotFound();
    if (label === 'ticket_type_not_found') throw fieldError('/body/ticketTypeIds', 'not a ticket type of this event');
    if (label === 'discount_code_limit') {
      throw new ApiError('conflict', {
        detail: `An event has at most ${MAX_DISCOUNT_CODES} discount codes.`,
        extensions: { limit: MAX_DISCOUNT_CODES },
      });
    }
    if (databaseError(error)?.code === UNIQUE_VIOLATION) {
      throw new ApiError('conflict', {
        detail: 'This event already has this discount code (codes are case-insensitive).',
        errors: [{ pointer: '/body/code', message: 'already exists' }],
      });
    }
    throw error;
  }
}

/** The event's discount codes, oldest first; 404 for an event that is not the caller's. */
export async function listDiscountCodes({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { eventId: string };
}): Promise<DiscountCodeView[]> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const eventId = input.eventId.toLowerCase();
  const [found, rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({ id: events.id })
      .from(events)
      .where(and(eq(events.organizationId, tenant.id), eq(events.id, eventId))),
    db
      .select({
        ...getTableColumns(discountCodes),
        uses: sql<number>`${activeUses(tenant.id, sql`${discountCodes}.id`)}::int`,
      })
      .from(discountCodes)
      .where(and(eq(discountCodes.organizationId, tenant.id), eq(discountCodes.eventId, eventId)))
      .orderBy(asc(discountCodes.createdAt), asc(discountCodes.id))
      .limit(MAX_DISCOUNT_CODES),
  ]);
  if (found.length === 0) throw eventNotFound();
  return rows.map(toDiscountCodeView);
}

/** Deletes a code (bookings keep its text and amount; their link to it becomes null) with its audit row. */
export async function deleteDiscountCode({ ctx, input }: { ctx: ServiceContext; input: { id: string } }) {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const id = input.id.toLowerCase();
  const organizationId = tenant.id;
  try {
    await scoped(db, { organizationId }, [
      db.execute(sql`with d as (delete from ${discountCodes} where organization_id = ${organizationId} and id = ${id}
          returning id)
        select (case when exists (select 1 from d) then '0' else ${GUARD_LABEL_PREFIX} || 'not_found' end)::int`),
      auditInsert(db, ctx.client, {
        organizationId,
        actor: actorOf(ctx),
        action: 'discount_code.deleted',
        target: { type: 'discount_code', id },
      }),
    ]);
  } catch (error) {
    if (abortLabel(error) === 'not_found') {
      throw new ApiError('not_found', { detail: 'No discount code with this id.' });
    }
    throw error;
  }
}

/** The fields of a code that can change (kind and code text cannot: delete it and add another). */
export type DiscountCodeChanges = Partial<
  Pick<
    DiscountCodeInput,
    | 'percent'
    | 'amounts'
    | 'ticketTypeIds'
    | 'unlocksHidden'
    | 'minQuantity'
    | 'startsAt'
    | 'endsAt'
    | 'maxUses'
    | 'maxPerBuyer'
  >
>;

const CHANGE_LABELS: Record<string, [pointer: string, message: string]> = {
  percent_only: ['/body/percent', 'only for percent'],
  amounts_only: ['/body/amounts', 'only for fixed'],
  window: ['/body/endsAt', 'endsAt must be after startsAt'],
  unlocks: ['/body/ticketTypeIds', 'unlocksHidden needs the ticket types it unlocks'],
  ticket_type_not_found: ['/body/ticketTypeIds', 'not a ticket type of this event'],
};

/**
 * Changes a code in one round trip: a guard statement that checks the changed code as a whole (the fields given over
 * those stored: `percent` only for a percent code, `amounts` only for a fixed one, the window, `unlocksHidden` with
 * ticket types, the ticket types of the code's event), the UPDATE of the given fields (null clears a window end or
 * a limit), the audit row (`discount_code.updated`, the fields changed) and the code as it is now with its uses.
 * Checkouts that already used the code keep what they got; a `maxUses` below the current uses only stops new ones.
 */
export async function updateDiscountCode({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; changes: DiscountCodeChanges };
}): Promise<DiscountCodeView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const organizationId = tenant.id;
  const id = input.id.toLowerCase();
  const changes = input.changes;
  const given = givenFields({ id, ...changes });
  const fields = Object.keys(given);
  if (fields.length === 0) throw fieldError('/body', 'give at least one field to change');
  if (Object.keys(changes.amounts ?? { any: 1 }).length === 0) {
    throw fieldError('/body/amounts', 'at least one currency');
  }
  assertListBounds(changes);
  const ticketTypeIds = changes.ticketTypeIds?.map((ticketTypeId) => ticketTypeId.toLowerCase());
  const date = (value: string | null | undefined) => (value === undefined || value === null ? null : new Date(value));
  const merged = (given: unknown, value: SQL, column: string) => (given === undefined ? sql.raw(`c.${column}`) : value);
  const startsAt = merged(changes.startsAt, sql`${date(changes.startsAt)}::timestamptz`, 'starts_at');
  const endsAt = merged(changes.endsAt, sql`${date(changes.endsAt)}::timestamptz`, 'ends_at');
  const unlocks = merged(changes.unlocksHidden, sql`${changes.unlocksHidden ?? false}::boolean`, 'unlocks_hidden');
  const types = merged(ticketTypeIds, uuidArray(ticketTypeIds ?? []), 'ticket_type_ids');
  const guard = sql`with c as (select * from ${discountCodes} where organization_id = ${organizationId} and id = ${id})
    select (case
      when not exists (select 1 from c) then ${GUARD_LABEL_PREFIX} || 'not_found'
      when ${changes.percent !== undefined}::boolean and (select kind from c) <> 'percent' then ${GUARD_LABEL_PREFIX} || 'percent_only'
      when ${changes.amounts !== undefined}::boolean and (select kind from c) <> 'fixed' then ${GUARD_LABEL_PREFIX} || 'amounts_only'
      when (select ${endsAt} <= ${startsAt} from c) then ${GUARD_LABEL_PREFIX} || 'window'
      when (select ${unlocks} and cardinality(${types}) = 0 from c) then ${GUARD_LABEL_PREFIX} || 'unlocks'
      when (select count(*) from ${ticketTypes} t, c where t.organization_id = ${organizationId}
              and t.event_id = c.event_id and t.id = any(${uuidArray(ticketTypeIds ?? [])}))
           <> ${ticketTypeIds?.length ?? 0} then ${GUARD_LABEL_PREFIX} || 'ticket_type_not_found'
      else '0' end)::int as guard`;
  // The given fields as the row holds them: ticket types lower-cased, instants as dates.
  const { amounts: _amounts, ticketTypeIds: _ticketTypeIds, startsAt: _startsAt, endsAt: _endsAt, ...plain } = given;
  const set = {
    ...plain,
    ...(changes.amounts === undefined ? {} : { amounts: changes.amounts as Record<string, number> }),
    ...(ticketTypeIds === undefined ? {} : { ticketTypeIds }),
    ...(changes.startsAt === undefined ? {} : { startsAt: date(changes.startsAt) }),
    ...(changes.endsAt === undefined ? {} : { endsAt: date(changes.endsAt) }),
  };
  try {
    const [, rows] = await scoped(db, { organizationId }, [
      db.execute(guard),
      db
        .update(discountCodes)
        .set({ ...set, updatedAt: sql`now()` })
        .where(and(eq(discountCodes.organizationId, organizationId), eq(discountCodes.id, id)))
        .returning({
          ...getTableColumns(discountCodes),
          uses: sql<number>`${activeUses(organizationId, sql`${discountCodes}.id`)}::int`,
        }),
      auditInsert(db, ctx.client, {
        organizationId,
        actor: actorOf(ctx),
        action: 'discount_code.updated',
        target: { type: 'discount_code', id },
        metadata: { fields },
      }),
    ]);
    const row = rows[0];
    if (row === undefined) throw new Error('discount code update returned nothing');
    return toDiscountCodeView(row);
  } catch (error) {
    const label = abortLabel(error);
    if (label === 'not_found') throw new ApiError('not_found', { detail: 'No discount code with this id.' });
    const refusal = label === null ? undefined : CHANGE_LABELS[label];
    if (refusal !== undefined) throw fieldError(...refusal);
    throw error;
  }
}
