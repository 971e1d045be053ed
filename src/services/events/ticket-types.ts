import { and, asc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { events, ticketTypes } from '../../db/schema/events.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditInsert } from '../audit/record.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsert, outboxInsertSelect } from '../outbox/record.ts';
import { ticketTypeData } from '../outbox/views.ts';
import {
  abortLabel,
  actorOf,
  concurrentChange,
  EDITABLE_STATUSES,
  eventNotFound,
  fieldError,
  frozenEvent,
  mustChange,
  nothingChanged,
  selectEvent,
  selectTicketType,
  ticketTypeNotFound,
  toTicketTypeView,
  type TicketTypeView,
  givenFields,
  GUARD_LABEL_PREFIX,
} from './shared.ts';

/**
 * Ticket types per event. The ticket type list (and the public event page) is not paginated, so it stays bounded;
 * a capacity pool can hold every ticket type of its event (MAX_MEMBERS in src/routes/capacity-pools/schema.ts).
 */
export const MAX_TICKET_TYPES_PER_EVENT = 100;
const TICKET_TYPE_LIMIT_LABEL = 'ticket_type_limit';

export function ticketTypeLimitError(): ApiError {
  return new ApiError('conflict', {
    detail:
      `An event has at most ${MAX_TICKET_TYPES_PER_EVENT} ticket types; delete one it no longer needs, or raise ` +
      'the quantity of an existing one.',
    extensions: { limit: MAX_TICKET_TYPES_PER_EVENT },
  });
}

export interface TicketTypeFields {
  name?: string | undefined;
  description?: string | undefined;
  price?: number | undefined;
  currency?: string | undefined;
  quantity?: number | undefined;
  salesStartAt?: Date | null | undefined;
  salesEndAt?: Date | null | undefined;
  minPerOrder?: number | undefined;
  maxPerOrder?: number | undefined;
  hidden?: boolean | undefined;
  accessCode?: string | null | undefined;
  sortOrder?: number | undefined;
  taxRate?: number | undefined;
}

export interface CreateTicketTypeInput extends TicketTypeFields {
  eventId: string;
  name: string;
  price: number;
  currency: string;
  quantity: number;
}

export interface Shape {
  salesStartAt: Date | null;
  salesEndAt: Date | null;
  minPerOrder: number;
  maxPerOrder: number;
  hidden: boolean;
  accessCode: string | null;
}

/** The rules between fields, checked on the ticket type as it will be stored (request merged over stored values). */
function assertConsistent(shape: Shape): void {
  if (shape.salesStartAt !== null && shape.salesEndAt !== null && shape.salesEndAt <= shape.salesStartAt) {
    throw fieldError('/body/salesEndAt', 'salesEndAt must be after salesStartAt');
  }
  if (shape.maxPerOrder < shape.minPerOrder) {
    throw fieldError('/body/maxPerOrder', 'maxPerOrder must be at least minPerOrder');
  }
  if (shape.hidden && shape.accessCode === null) {
    throw fieldError('/body/accessCode', 'A hidden ticket type needs an access code');
  }
}

/** The event is still open to changes: the statement locks it (FOR SHARE) so a concurrent cancel waits for us. */
function eventOpen(db: ServiceContext['services']['db'], organizationId: string, eventId: string): SQL {
  return sql`exists (${db
    .select({ one: sql`1` })
    .from(events)
    .where(
      and(
        eq(events.organizationId, organizationId),
        eq(events.id, eventId),
        inArray(events.status, [...EDITABLE_STATUSES]),
      ),
    )
    .for('share')})`;
}

/** A ticket type with the status of its event, in one query. */
function selectTicketTypeWithEvent(db: ServiceContext['services']['db'], organizationId: string, id: string) {
  return db
    .select({ ticketType: ticketTypes, eventStatus: events.status })
    .from(ticketTypes)
    .innerJoin(events, and(eq(events.organizationId, ticketTypes.organizationId), eq(events.id, ticketTypes.eventId)))
    .where(and(eq(ticketTypes.organizationId, organizationId), eq(ticketTypes.id, id)))
    .limit(1);
}

/**
 * The stored shape of a new ticket type (defaults filled in: sales windows open, 1 to max(10, min) per order, not
 * hidden), after the rules between its fields (400 `validation_failed` naming the field). Shared by the create route
 * and the imports (src/services/imports/events.ts).
 */
export function assertConsistentTicketType(input: TicketTypeFields): Shape {
  const shape: Shape = {
    salesStartAt: input.salesStartAt ?? null,
    salesEndAt: input.salesEndAt ?? null,
    minPerOrder: input.minPerOrder ?? 1,
    maxPerOrder: input.maxPerOrder ?? Math.max(10, input.minPerOrder ?? 1),
    hidden: input.hidden ?? false,
    accessCode: input.accessCode ?? null,
  };
  assertConsistent(shape);
  return shape;
}

export async function listTicketTypes({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { eventId: string };
}): Promise<TicketTypeView[]> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const eventId = input.eventId.toLowerCase();
  const [[event], rows] = await scoped(db, { organizationId: tenant.id }, [
    selectEvent(db, tenant.id, eventId),
    db
      .select()
      .from(ticketTypes)
      .where(and(eq(ticketTypes.organizationId, tenant.id), eq(ticketTypes.eventId, eventId)))
      .orderBy(asc(ticketTypes.sortOrder), asc(ticketTypes.createdAt), asc(ticketTypes.id)),
  ]);
  if (!event) throw eventNotFound();
  return rows.map(toTicketTypeView);
}

export async function createTicketType({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: CreateTicketTypeInput;
}): Promise<TicketTypeView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id };
  const eventId = input.eventId.toLowerCase();
  const [[event]] = await scoped(db, scope, [selectEvent(db, tenant.id, eventId)]);
  if (!event) throw eventNotFound();
  if (!EDITABLE_STATUSES.includes(event.status)) throw frozenEvent(event.status);
  const shape = assertConsistentTicketType(input);

  const id = crypto.randomUUID();
  try {
    const [, , [row]] = await scoped(db, scope, [
      mustChange(
        db,
        db
          .update(events)
          .set({ updatedAt: sql`now()` })
          .where(
            and(
              eq(events.organizationId, tenant.id),
              eq(events.id, eventId),
              inArray(events.status, [...EDITABLE_STATUSES]),
            ),
          )
          .returning({ id: events.id }),
      ),
      // A new statement after the event row is locked (the UPDATE above), so its READ COMMITTED snapshot counts every
      // ticket type a concurrent create committed before it: of two creates at the limit minus one, one passes.
      db.execute(
        sql`select (case when (select count(*) from ${ticketTypes} where ${ticketTypes.organizationId} = ${tenant.id}
          and ${ticketTypes.eventId} = ${eventId}) < ${MAX_TICKET_TYPES_PER_EVENT} then '0'
          else ${GUARD_LABEL_PREFIX + TICKET_TYPE_LIMIT_LABEL} end)::int as guard`,
      ),
      db
        .insert(ticketTypes)
        .values({
          id,
          organizationId: tenant.id,
          eventId,
          name: input.name,
          description: input.description ?? '',
          price: input.price,
          currency: input.currency,
          quantity: input.quantity,
          sortOrder: input.sortOrder ?? 0,
          taxRate: input.taxRate ?? 0,
          ...shape,
        })
        .returning(),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'ticket_type.created',
        target: { type: 'ticket_type', id },
        metadata: { eventId, name: input.name, price: input.price, currency: input.currency, quantity: input.quantity },
      }),
      outboxInsertSelect(db, {
        organizationId: tenant.id,
        type: 'ticket_type.created',
        data: ticketTypeData(tenant.id, id),
      }),
    ]);
    if (!row) throw new Error('ticket type insert returned nothing');
    notifyOutbox(ctx, tenant.id);
    return toTicketTypeView(row);
  } catch (error) {
    if (nothingChanged(error)) throw new ApiError('conflict', { detail: 'The event was cancelled meanwhile.' });
    if (abortLabel(error) === TICKET_TYPE_LIMIT_LABEL) throw ticketTypeLimitError();
    throw error;
  }
}

/**
 * Changes a ticket type of a draft or published event. The UPDATE repeats every business rule in its WHERE clause
 * (quantity not below sold + held, price and currency fixed once anything is sold or held), so a sale that lands
 * between the read and the write makes the change fail with 409 rather than break the rule.
 */
export async function updateTicketType({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: TicketTypeFields & { id: string };
}): Promise<TicketTypeView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id };
  const id = input.id.toLowerCase();
  const [[found]] = await scoped(db, scope, [selectTicketTypeWithEvent(db, tenant.id, id)]);
  if (!found) throw ticketTypeNotFound();
  const current = found.ticketType;
  if (!EDITABLE_STATUSES.includes(found.eventStatus)) throw frozenEvent(found.eventStatus);

  const changes = givenFields(input) as Partial<typeof ticketTypes.$inferInsert>;
  // Showing a ticket type again drops its access code, unless one is given with it.
  if (input.hidden === false && input.accessCode === undefined) changes.accessCode = null;
  assertConsistent({
    salesStartAt: changes.salesStartAt === undefined ? current.salesStartAt : changes.salesStartAt,
    salesEndAt: changes.salesEndAt === undefined ? current.salesEndAt : changes.salesEndAt,
    minPerOrder: changes.minPerOrder ?? current.minPerOrder,
    maxPerOrder: changes.maxPerOrder ?? current.maxPerOrder,
    hidden: changes.hidden ?? current.hidden,
    accessCode: changes.accessCode === undefined ? current.accessCode : changes.accessCode,
  });
  const taken = current.sold + current.held;
  if (changes.quantity !== undefined && changes.quantity < taken) {
    throw new ApiError('conflict', {
      detail: `The quantity cannot go below the ${taken} tickets already sold or held.`,
    });
  }
  const repriced =
    (changes.price !== undefined && changes.price !== current.price) ||
    (changes.currency !== undefined && changes.currency !== current.currency);
  if (repriced && taken > 0) {
    throw new ApiError('conflict', { detail: 'The price and currency are fixed once tickets are sold or held.' });
  }
  const changed = Object.keys(changes);
  if (changed.length === 0) return toTicketTypeView(current);

  const conditions: SQL[] = [
    eq(ticketTypes.organizationId, tenant.id),
    eq(ticketTypes.id, id),
    eventOpen(db, tenant.id, current.eventId),
  ];
  if (changes.quantity !== undefined)
    conditions.push(sql`${ticketTypes.sold} + ${ticketTypes.held} <= ${changes.quantity}`);
  if (repriced) conditions.push(sql`${ticketTypes.sold} + ${ticketTypes.held} = 0`);

  try {
    const [, [row]] = await scoped(db, scope, [
      mustChange(
        db,
        db
          .update(ticketTypes)
          .set({ ...changes, updatedAt: sql`now()` })
          .where(and(...conditions))
          .returning({ id: ticketTypes.id }),
      ),
      selectTicketType(db, tenant.id, id),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'ticket_type.updated',
        target: { type: 'ticket_type', id },
        metadata: {
          eventId: current.eventId,
          fields: changed,
          before: Object.fromEntries(
            changed.filter((key) => key !== 'accessCode').map((key) => [key, current[key as keyof typeof current]]),
          ),
        },
      }),
      outboxInsertSelect(db, {
        organizationId: tenant.id,
        type: 'ticket_type.updated',
        data: ticketTypeData(tenant.id, id),
      }),
    ]);
    if (!row) throw ticketTypeNotFound();
    notifyOutbox(ctx, tenant.id);
    return toTicketTypeView(row);
  } catch (error) {
    if (nothingChanged(error)) throw concurrentChange();
    throw error;
  }
}

/** Deletes a ticket type nothing was sold or held from, of a draft or published event. */
export async function deleteTicketType({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<void> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id };
  const id = input.id.toLowerCase();
  const [[found]] = await scoped(db, scope, [selectTicketTypeWithEvent(db, tenant.id, id)]);
  if (!found) throw ticketTypeNotFound();
  const current = found.ticketType;
  if (!EDITABLE_STATUSES.includes(found.eventStatus)) throw frozenEvent(found.eventStatus);
  if (current.sold + current.held > 0) {
    throw new ApiError('conflict', {
      detail: 'Tickets of this type are sold or held; set its quantity to what is taken instead of deleting it.',
    });
  }
  const unsold = and(
    eq(ticketTypes.organizationId, tenant.id),
    eq(ticketTypes.id, id),
    eq(ticketTypes.sold, 0),
    eq(ticketTypes.held, 0),
  );
  try {
    await scoped(db, scope, [
      // The ticket type's row is locked before the event's (which the DELETE locks FOR SHARE): a checkout writes its
      // items (a KEY SHARE lock on this row) before it updates the event row, so locking the event first could
      // deadlock with it. Now the deletion waits for that checkout, then finds the seats taken (409).
      mustChange(db, db.select({ id: ticketTypes.id }).from(ticketTypes).where(unsold).for('update')),
      mustChange(
        db,
        db
          .delete(ticketTypes)
          .where(and(unsold, eventOpen(db, tenant.id, current.eventId)))
          .returning({ id: ticketTypes.id }),
      ),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'ticket_type.deleted',
        target: { type: 'ticket_type', id },
        metadata: { eventId: current.eventId, name: current.name },
      }),
      // The ticket type as it was: the row read above (the DELETE's conditions kept its counts at zero).
      outboxInsert(db, { organizationId: tenant.id, type: 'ticket_type.deleted', data: toTicketTypeView(current) }),
    ]);
  } catch (error) {
    if (nothingChanged(error)) throw concurrentChange();
    throw error;
  }
  notifyOutbox(ctx, tenant.id);
}
