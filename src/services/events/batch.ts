import { and, asc, eq, sql } from 'drizzle-orm';
import { capacityPools, capacityPoolTicketTypes, ticketTypes } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { uuidArray } from '../../db/params.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { toCapacityPoolView, type CapacityPoolView } from './capacity-pools.ts';
import { toTicketTypeView, type TicketTypeView } from './shared.ts';

/** What is on sale for an event: its ticket types and capacity pools, in the orders of their REST lists. */
export interface EventInventory {
  ticketTypes: TicketTypeView[];
  capacityPools: CapacityPoolView[];
}

/**
 * The ticket types and capacity pools of many events of the caller's organization at once (the GraphQL dataloader
 * of one nesting level): one database round trip, three queries in one scoped batch, whatever the number of events.
 * Ids of events the organization does not have (another tenant's, or none) get empty lists, never another tenant's
 * rows (tenant predicate and row-level security).
 */
export async function eventInventories({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { eventIds: readonly string[] };
}): Promise<Map<string, EventInventory>> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const eventIds = [...new Set(input.eventIds.map((id) => id.toLowerCase()))];
  const inventories = new Map<string, EventInventory>(
    eventIds.map((id) => [id, { ticketTypes: [], capacityPools: [] }]),
  );
  if (eventIds.length === 0) return inventories;
  const ofEvents = uuidArray(eventIds);
  const [typeRows, poolRows, memberRows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select()
      .from(ticketTypes)
      .where(and(eq(ticketTypes.organizationId, tenant.id), sql`${ticketTypes.eventId} = any(${ofEvents})`))
      .orderBy(asc(ticketTypes.sortOrder), asc(ticketTypes.createdAt), asc(ticketTypes.id)),
    db
      .select()
      .from(capacityPools)
      .where(and(eq(capacityPools.organizationId, tenant.id), sql`${capacityPools.eventId} = any(${ofEvents})`))
      .orderBy(asc(capacityPools.createdAt), asc(capacityPools.id)),
    db
      .select({ poolId: capacityPoolTicketTypes.poolId, ticketTypeId: capacityPoolTicketTypes.ticketTypeId })
      .from(capacityPoolTicketTypes)
      .where(
        and(
          eq(capacityPoolTicketTypes.organizationId, tenant.id),
          sql`${capacityPoolTicketTypes.eventId} = any(${ofEvents})`,
        ),
      ),
  ]);
  for (const row of typeRows) inventories.get(row.eventId)?.ticketTypes.push(toTicketTypeView(row));
  const membersOf = new Map<string, string[]>();
  for (const member of memberRows)
    membersOf.set(member.poolId, [...(membersOf.get(member.poolId) ?? []), member.ticketTypeId]);
  for (const pool of poolRows) {
    inventories.get(pool.eventId)?.capacityPools.push(toCapacityPoolView(pool, membersOf.get(pool.id) ?? []));
  }
  return inventories;
}

/** Seats of an event over all its ticket types; `remaining` is also bounded by the event's capacity and its pools. */
export interface EventAvailability {
  quantity: number;
  sold: number;
  held: number;
  remaining: number;
}

/**
 * An event's availability from its inventory, without I/O: the ticket types' remaining seats, each pool capping the
 * seats of its ticket types at its own remaining, and the event's capacity (when set) capping the total.
 */
export function eventAvailability(capacity: number | null, inventory: EventInventory): EventAvailability {
  const quantity = inventory.ticketTypes.reduce((sum, type) => sum + type.quantity, 0);
  const sold = inventory.ticketTypes.reduce((sum, type) => sum + type.sold, 0);
  const held = inventory.ticketTypes.reduce((sum, type) => sum + type.held, 0);
  const remainingOf = new Map(inventory.ticketTypes.map((type) => [type.id, type.remaining]));
  let remaining = 0;
  const pooled = new Set<string>();
  for (const pool of inventory.capacityPools) {
    const ofPool = pool.ticketTypeIds.filter((id) => remainingOf.has(id) && !pooled.has(id));
    ofPool.forEach((id) => pooled.add(id));
    remaining += Math.min(
      pool.remaining,
      ofPool.reduce((sum, id) => sum + (remainingOf.get(id) ?? 0), 0),
    );
  }
  for (const [id, left] of remainingOf) if (!pooled.has(id)) remaining += left;
  if (capacity !== null) remaining = Math.min(remaining, Math.max(0, capacity - sold - held));
  return { quantity, sold, held, remaining };
}
