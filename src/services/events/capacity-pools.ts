import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { capacityPools, capacityPoolTicketTypes, events, ticketTypes } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditInsert } from '../audit/record.ts';
import { databaseError, FOREIGN_KEY_VIOLATION } from '../users/guards.ts';
import { uuidArray } from '../../db/params.ts';
import {
  abortLabel,
  actorOf,
  concurrentChange,
  EDITABLE_STATUSES,
  eventNotFound,
  fieldError,
  frozenEvent,
  GUARD_LABEL_PREFIX,
  mustChange,
  selectEvent,
} from './shared.ts';

/**
 * Capacity pools (pretix's quotas): a capacity shared by some ticket types of one event. Checkout takes seats from
 * every pool its ticket types belong to (src/services/bookings/inventory.ts), so a sale must fit each of them.
 *
 * A pool counts `sold` and `held` like its ticket types. Creating a pool, or changing its members, computes them
 * from the member ticket types' counters, so seats already sold count against it. Those writes first lock the
 * event row (FOR SHARE): every seat movement (checkout, confirmation, release) updates the event row first, so it
 * waits for the pool change, and the pool change reads the counters every committed sale left.
 *
 * An event has at most MAX_CAPACITY_POOLS_PER_EVENT pools (the pool list is not paginated). Creating one locks the
 * event row FOR NO KEY UPDATE instead, so concurrent creates of one event queue up and each counts the pools the one
 * before it committed.
 */
export const MAX_CAPACITY_POOLS_PER_EVENT = 50;
const POOL_LIMIT_LABEL = 'pool_limit';

export function poolLimitError(): ApiError {
  return new ApiError('conflict', {
    detail: `An event has at most ${MAX_CAPACITY_POOLS_PER_EVENT} capacity pools; delete one it no longer needs.`,
    extensions: { limit: MAX_CAPACITY_POOLS_PER_EVENT },
  });
}

type CapacityPool = typeof capacityPools.$inferSelect;

export interface CapacityPoolView {
  id: string;
  eventId: string;
  name: string;
  capacity: number;
  sold: number;
  held: number;
  remaining: number;
  ticketTypeIds: string[];
}

export interface CreateCapacityPoolInput {
  eventId: string;
  name: string;
  capacity: number;
  ticketTypeIds: string[];
}

export interface UpdateCapacityPoolInput {
  id: string;
  name?: string | undefined;
  capacity?: number | undefined;
  ticketTypeIds?: string[] | undefined;
}

/** A pool as the API shows it, with the ids of its ticket types (sorted). */
export function toCapacityPoolView(pool: CapacityPool, ticketTypeIds: readonly string[]): CapacityPoolView {
  return {
    id: pool.id,
    eventId: pool.eventId,
    name: pool.name,
    capacity: pool.capacity,
    sold: pool.sold,
    held: pool.held,
    remaining: Math.max(0, pool.capacity - pool.sold - pool.held),
    ticketTypeIds: [...ticketTypeIds].sort(),
  };
}

function poolNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No capacity pool with this id.' });
}

function belowTaken(taken: number): ApiError {
  return new ApiError('conflict', {
    detail: `The capacity cannot be below the ${taken} tickets of its ticket types already sold or held.`,
  });
}

function overCapacity(): ApiError {
  return new ApiError('conflict', {
    detail: 'Tickets of these types were sold meanwhile: the capacity is below what is sold or held. Read it again.',
  });
}

/** The ids lowercased, refusing one listed twice (400 pointing at the repeat). */
function distinctIds(ids: readonly string[]): string[] {
  const lowered = ids.map((id) => id.toLowerCase());
  lowered.forEach((id, index) => {
    if (lowered.indexOf(id) !== index) throw fieldError(`/body/ticketTypeIds/${index}`, 'listed twice');
  });
  return lowered;
}

/** Every id must be a ticket type of `eventId` (400 pointing at the first that is not); returns sold + held of all. */
function assertMembers(
  ids: readonly string[],
  eventId: string,
  found: readonly { id: string; eventId: string; sold: number; held: number }[],
): number {
  const byId = new Map(found.filter((row) => row.eventId === eventId).map((row) => [row.id, row]));
  const missing = ids.findIndex((id) => !byId.has(id));
  if (missing !== -1) throw fieldError(`/body/ticketTypeIds/${missing}`, 'not a ticket type of this event');
  return ids.reduce((sum, id) => sum + (byId.get(id)?.sold ?? 0) + (byId.get(id)?.held ?? 0), 0);
}

/**
 * A batch statement that locks the event (FOR SHARE) while it is draft or published, and aborts the batch with
 * `event_closed` otherwise: seat movements and cancellation wait for the pool change, which sees their result.
 * `no key update` also makes pool creates of the event wait for each other (for the count of pools).
 */
function lockOpenEvent(
  db: Database,
  organizationId: string,
  eventId: string,
  strength: 'share' | 'no key update' = 'share',
) {
  return mustChange(
    db,
    db
      .select({ id: events.id })
      .from(events)
      .where(
        and(
          eq(events.organizationId, organizationId),
          eq(events.id, eventId),
          inArray(events.status, [...EDITABLE_STATUSES]),
        ),
      )
      .for(strength),
    'event_closed',
  );
}

function selectPoolWithEvent(db: Database, organizationId: string, id: string) {
  return db
    .select({ pool: capacityPools, eventStatus: events.status })
    .from(capacityPools)
    .innerJoin(
      events,
      and(eq(events.organizationId, capacityPools.organizationId), eq(events.id, capacityPools.eventId)),
    )
    .where(and(eq(capacityPools.organizationId, organizationId), eq(capacityPools.id, id)))
    .limit(1);
}

function selectPool(db: Database, organizationId: string, id: string) {
  return db
    .select()
    .from(capacityPools)
    .where(and(eq(capacityPools.organizationId, organizationId), eq(capacityPools.id, id)))
    .limit(1);
}

function selectMembers(db: Database, organizationId: string, poolId: string) {
  return db
    .select({ ticketTypeId: capacityPoolTicketTypes.ticketTypeId })
    .from(capacityPoolTicketTypes)
    .where(and(eq(capacityPoolTicketTypes.organizationId, organizationId), eq(capacityPoolTicketTypes.poolId, poolId)));
}

function selectTicketTypeCounts(db: Database, organizationId: string, ids: readonly string[]) {
  return db
    .select({ id: ticketTypes.id, eventId: ticketTypes.eventId, sold: ticketTypes.sold, held: ticketTypes.held })
    .from(ticketTypes)
    .where(and(eq(ticketTypes.organizationId, organizationId), inArray(ticketTypes.id, [...ids])));
}

/** The refusal a failed pool write stands for; rethrows anything else. */
function writeFailure(error: unknown): never {
  const label = abortLabel(error);
  if (label === 'event_closed') {
    throw new ApiError('conflict', { detail: 'The event was cancelled, completed or deleted meanwhile.' });
  }
  if (label === 'pool_gone') throw poolNotFound();
  if (label === 'over_capacity') throw overCapacity();
  if (label === POOL_LIMIT_LABEL) throw poolLimitError();
  // A member ticket type was deleted between the read and the write.
  if (databaseError(error)?.code === FOREIGN_KEY_VIOLATION) throw concurrentChange();
  throw error;
}

export async function listCapacityPools({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { eventId: string };
}): Promise<CapacityPoolView[]> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const eventId = input.eventId.toLowerCase();
  const [[event], pools, members] = await scoped(db, { organizationId: tenant.id }, [
    selectEvent(db, tenant.id, eventId),
    db
      .select()
      .from(capacityPools)
      .where(and(eq(capacityPools.organizationId, tenant.id), eq(capacityPools.eventId, eventId)))
      .orderBy(asc(capacityPools.createdAt), asc(capacityPools.id)),
    db
      .select({ poolId: capacityPoolTicketTypes.poolId, ticketTypeId: capacityPoolTicketTypes.ticketTypeId })
      .from(capacityPoolTicketTypes)
      .where(and(eq(capacityPoolTicketTypes.organizationId, tenant.id), eq(capacityPoolTicketTypes.eventId, eventId))),
  ]);
  if (!event) throw eventNotFound();
  return pools.map((pool) =>
    toCapacityPoolView(
      pool,
      members.filter((member) => member.poolId === pool.id).map((member) => member.ticketTypeId),
    ),
  );
}

/**
 * Creates a pool over ticket types of a draft or published event. It starts with the sold and held seats of its
 * ticket types, and its capacity must hold them (409), checked again in the INSERT against the counts at write time.
 * The event's MAX_CAPACITY_POOLS_PER_EVENT-th pool is its last (409 `poolLimitError` beyond).
 */
export async function createCapacityPool({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: CreateCapacityPoolInput;
}): Promise<CapacityPoolView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const organizationId = tenant.id;
  const scope = { organizationId };
  const eventId = input.eventId.toLowerCase();
  const ids = distinctIds(input.ticketTypeIds);
  const [[event], found] = await scoped(db, scope, [
    selectEvent(db, organizationId, eventId),
    selectTicketTypeCounts(db, organizationId, ids),
  ]);
  if (!event) throw eventNotFound();
  if (!EDITABLE_STATUSES.includes(event.status)) throw frozenEvent(event.status);
  const taken = assertMembers(ids, eventId, found);
  if (input.capacity < taken) throw belowTaken(taken);

  const id = crypto.randomUUID();
  try {
    const [, , , , , [row]] = await scoped(db, scope, [
      lockOpenEvent(db, organizationId, eventId, 'no key update'),
      // A new statement after the lock: its snapshot counts every pool a concurrent create committed before it.
      db.execute(
        sql`select (case when (select count(*) from ${capacityPools} where organization_id = ${organizationId}
          and event_id = ${eventId}) < ${MAX_CAPACITY_POOLS_PER_EVENT} then '0'
          else ${GUARD_LABEL_PREFIX + POOL_LIMIT_LABEL} end)::int as guard`,
      ),
      mustChange(
        db,
        sql`(insert into ${capacityPools} (id, organization_id, event_id, name, capacity, sold, held)
          select ${id}, ${organizationId}, ${eventId}, ${input.name}, ${input.capacity},
            coalesce(sum(sold), 0), coalesce(sum(held), 0)
          from ${ticketTypes}
          where organization_id = ${organizationId} and event_id = ${eventId} and id = any(${uuidArray(ids)})
          having coalesce(sum(sold + held), 0) <= ${input.capacity}
          returning 1)`,
        'over_capacity',
      ),
      db
        .insert(capacityPoolTicketTypes)
        .values(ids.map((ticketTypeId) => ({ organizationId, eventId, poolId: id, ticketTypeId }))),
      auditInsert(db, ctx.client, {
        organizationId,
        actor: actorOf(ctx),
        action: 'capacity_pool.created',
        target: { type: 'capacity_pool', id },
        metadata: { eventId, name: input.name, capacity: input.capacity, ticketTypeIds: ids },
      }),
      selectPool(db, organizationId, id),
    ]);
    if (!row) throw new Error('capacity pool insert returned nothing');
    return toCapacityPoolView(row, ids);
  } catch (error) {
    return writeFailure(error);
  }
}

/**
 * Changes a pool's name, capacity or ticket types. The capacity may not go below what its ticket types have sold
 * or held: checked first, and again in the UPDATE's WHERE clause against the counts at write time, so a sale in
 * between answers 409. New ticket types replace the memberships and recompute `sold` and `held` from them, in the
 * same batch.
 */
export async function updateCapacityPool({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: UpdateCapacityPoolInput;
}): Promise<CapacityPoolView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const organizationId = tenant.id;
  const scope = { organizationId };
  const id = input.id.toLowerCase();
  const ids = input.ticketTypeIds === undefined ? undefined : distinctIds(input.ticketTypeIds);
  const [[found], members, types] = await scoped(db, scope, [
    selectPoolWithEvent(db, organizationId, id),
    selectMembers(db, organizationId, id),
    selectTicketTypeCounts(db, organizationId, ids ?? []),
  ]);
  if (!found) throw poolNotFound();
  const current = found.pool;
  if (!EDITABLE_STATUSES.includes(found.eventStatus)) throw frozenEvent(found.eventStatus);
  const taken = ids === undefined ? current.sold + current.held : assertMembers(ids, current.eventId, types);
  const capacity = input.capacity ?? current.capacity;
  if (capacity < taken) throw belowTaken(taken);

  // Sums over the pool's memberships as they are at that point of the batch (after the replacement below).
  const ofMembers = sql`from ${ticketTypes} t join ${capacityPoolTicketTypes} m
    on m.organization_id = t.organization_id and m.ticket_type_id = t.id
    where m.organization_id = ${organizationId} and m.pool_id = ${id}`;
  const recount =
    ids === undefined
      ? {}
      : {
          sold: sql`(select coalesce(sum(t.sold), 0)::int ${ofMembers})`,
          held: sql`(select coalesce(sum(t.held), 0)::int ${ofMembers})`,
        };
  // The capacity at write time: the new one, or the stored one (which a concurrent change may have set).
  const limit = input.capacity === undefined ? sql`${capacityPools.capacity}` : sql`${input.capacity}`;
  const fits =
    ids === undefined
      ? sql`${capacityPools.sold} + ${capacityPools.held} <= ${limit}`
      : sql`(select coalesce(sum(t.sold + t.held), 0) ${ofMembers}) <= ${limit}`;
  const before = {
    name: current.name,
    capacity: current.capacity,
    ticketTypeIds: members.map((member) => member.ticketTypeId).sort(),
  };

  const statements = [
    lockOpenEvent(db, organizationId, current.eventId),
    mustChange(
      db,
      db
        .select({ id: capacityPools.id })
        .from(capacityPools)
        .where(and(eq(capacityPools.organizationId, organizationId), eq(capacityPools.id, id)))
        .for('update'),
      'pool_gone',
    ),
    ...(ids === undefined
      ? []
      : [
          db
            .delete(capacityPoolTicketTypes)
            .where(
              and(eq(capacityPoolTicketTypes.organizationId, organizationId), eq(capacityPoolTicketTypes.poolId, id)),
            ),
          db.insert(capacityPoolTicketTypes).values(
            ids.map((ticketTypeId) => ({
              organizationId,
              eventId: current.eventId,
              poolId: id,
              ticketTypeId,
            })),
          ),
        ]),
    mustChange(
      db,
      db
        .update(capacityPools)
        .set({
          ...(input.name === undefined ? {} : { name: input.name }),
          ...(input.capacity === undefined ? {} : { capacity: input.capacity }),
          ...recount,
          updatedAt: sql`now()`,
        })
        .where(and(eq(capacityPools.organizationId, organizationId), eq(capacityPools.id, id), fits))
        .returning({ id: capacityPools.id }),
      'over_capacity',
    ),
    auditInsert(db, ctx.client, {
      organizationId,
      actor: actorOf(ctx),
      action: 'capacity_pool.updated',
      target: { type: 'capacity_pool', id },
      metadata: {
        eventId: current.eventId,
        fields: Object.keys(input).filter(
          (key) => key !== 'id' && input[key as keyof UpdateCapacityPoolInput] !== undefined,
        ),
        before,
      },
    }),
    selectPool(db, organizationId, id),
    selectMembers(db, organizationId, id),
  ] as const;

  try {
    const results = await scoped(db, scope, statements as unknown as Parameters<typeof scoped>[2]);
    const [row] = results.at(-2) as CapacityPool[];
    const after = results.at(-1) as { ticketTypeId: string }[];
    if (!row) throw poolNotFound();
    return toCapacityPoolView(
      row,
      after.map((member) => member.ticketTypeId),
    );
  } catch (error) {
    return writeFailure(error);
  }
}

/** Deletes a pool of a draft or published event; the seats it counted stay sold or held on their ticket types. */
export async function deleteCapacityPool({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<void> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const organizationId = tenant.id;
  const scope = { organizationId };
  const id = input.id.toLowerCase();
  const [[found]] = await scoped(db, scope, [selectPoolWithEvent(db, organizationId, id)]);
  if (!found) throw poolNotFound();
  const current = found.pool;
  if (!EDITABLE_STATUSES.includes(found.eventStatus)) throw frozenEvent(found.eventStatus);
  try {
    await scoped(db, scope, [
      lockOpenEvent(db, organizationId, current.eventId),
      mustChange(
        db,
        db
          .delete(capacityPools)
          .where(and(eq(capacityPools.organizationId, organizationId), eq(capacityPools.id, id)))
          .returning({ id: capacityPools.id }),
        'pool_gone',
      ),
      auditInsert(db, ctx.client, {
        organizationId,
        actor: actorOf(ctx),
        action: 'capacity_pool.deleted',
        target: { type: 'capacity_pool', id },
        metadata: {
          eventId: current.eventId,
          name: current.name,
          capacity: current.capacity,
          sold: current.sold,
          held: current.held,
        },
      }),
    ]);
  } catch (error) {
    writeFailure(error);
  }
}
