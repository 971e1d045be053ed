import { and, count, eq, gt, inArray, sql } from 'drizzle-orm';
import { events, ticketTypes } from '../../db/schema/events.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditInsert } from '../audit/record.ts';
import { isPlanLimit, planLimitError, quotaGuard } from '../plans/quotas.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertSelect } from '../outbox/record.ts';
import { eventData } from '../outbox/views.ts';
import {
  actorOf,
  EDITABLE_STATUSES,
  eventNotFound,
  mustChange,
  nothingChanged,
  selectEvent,
  toEventView,
  type EventView,
} from './shared.ts';

function illegalTransition(from: string, to: string): ApiError {
  return new ApiError('conflict', { detail: `A ${from} event cannot be ${to}.` });
}

/**
 * draft -> published. Needs at least one ticket type and a start in the future (422 otherwise). The UPDATE carries
 * every precondition (`status = 'draft'`, the start, a ticket type exists), so of two concurrent publishes exactly
 * one changes the row; the other matches nothing and answers 409, its audit row rolled back with it. The plan's
 * `publishedEvents` quota is checked in the same batch, after a per-organization lock (403 `plan_limit` when full),
 * so concurrent publishes of different events cannot exceed it either.
 */
export async function publishEvent({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<EventView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id };
  const id = input.id.toLowerCase();
  const [[current], [types]] = await scoped(db, scope, [
    selectEvent(db, tenant.id, id),
    db
      .select({ total: count() })
      .from(ticketTypes)
      .where(and(eq(ticketTypes.organizationId, tenant.id), eq(ticketTypes.eventId, id))),
  ]);
  if (!current) throw eventNotFound();
  if (current.status !== 'draft') throw illegalTransition(current.status, 'published');
  if ((types?.total ?? 0) === 0) {
    throw new ApiError('unprocessable', { detail: 'Add at least one ticket type before publishing the event.' });
  }
  if (current.startsAt.getTime() <= Date.now()) {
    throw new ApiError('unprocessable', { detail: 'The event has already started; move startsAt into the future.' });
  }

  try {
    const [, , , [row]] = await scoped(db, scope, [
      // The plan's quota of published events: serialized per organization, counted at write time.
      ...quotaGuard(db, tenant, 'publishedEvents'),
      mustChange(
        db,
        db
          .update(events)
          .set({ status: 'published', publishedAt: sql`now()`, updatedAt: sql`now()` })
          .where(
            and(
              eq(events.organizationId, tenant.id),
              eq(events.id, id),
              eq(events.status, 'draft'),
              gt(events.startsAt, sql`now()`),
              sql`exists (select 1 from ${ticketTypes} where ${ticketTypes.organizationId} = ${tenant.id} and ${ticketTypes.eventId} = ${id})`,
            ),
          )
          .returning({ id: events.id }),
      ),
      selectEvent(db, tenant.id, id),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'event.published',
        target: { type: 'event', id },
        metadata: { from: 'draft', to: 'published' },
      }),
      outboxInsertSelect(db, { organizationId: tenant.id, type: 'event.published', data: eventData(tenant.id, id) }),
    ]);
    if (!row) throw eventNotFound();
    notifyOutbox(ctx, tenant.id);
    return toEventView(row);
  } catch (error) {
    if (isPlanLimit(error)) throw planLimitError(tenant, 'publishedEvents');
    if (nothingChanged(error)) {
      throw new ApiError('conflict', { detail: 'The event changed while it was being published; read it again.' });
    }
    throw error;
  }
}

/** draft | published -> cancelled, as one conditional UPDATE (a second cancel answers 409). */
export async function cancelEvent({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<EventView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id };
  const id = input.id.toLowerCase();
  const [[current]] = await scoped(db, scope, [selectEvent(db, tenant.id, id)]);
  if (!current) throw eventNotFound();
  if (!EDITABLE_STATUSES.includes(current.status)) throw illegalTransition(current.status, 'cancelled');

  try {
    const [, [row]] = await scoped(db, scope, [
      mustChange(
        db,
        db
          .update(events)
          .set({ status: 'cancelled', cancelledAt: sql`now()`, updatedAt: sql`now()` })
          .where(
            and(
              eq(events.organizationId, tenant.id),
              eq(events.id, id),
              inArray(events.status, [...EDITABLE_STATUSES]),
            ),
          )
          .returning({ id: events.id }),
      ),
      selectEvent(db, tenant.id, id),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'event.cancelled',
        target: { type: 'event', id },
        metadata: { from: current.status, to: 'cancelled' },
      }),
      outboxInsertSelect(db, { organizationId: tenant.id, type: 'event.cancelled', data: eventData(tenant.id, id) }),
    ]);
    if (!row) throw eventNotFound();
    notifyOutbox(ctx, tenant.id);
    return toEventView(row);
  } catch (error) {
    if (nothingChanged(error)) {
      throw new ApiError('conflict', { detail: 'The event changed while it was being cancelled; read it again.' });
    }
    throw error;
  }
}
