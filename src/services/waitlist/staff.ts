import { and, eq, sql, type SQL } from 'drizzle-orm';
import { events, waitlistEntries } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { cursorTimestamp, decodeCursor, encodeCursor, keysetAfter, keysetOrder, listSort } from '../../lib/cursor.ts';
import { auditInsert } from '../audit/record.ts';
import { actorOf, eventNotFound, mustChange, nothingChanged } from '../events/shared.ts';
import type { WaitlistEntryView } from './views.ts';
import type { WaitlistEntry } from '../../db/schema/index.ts';

const QUEUE_ORDER = listSort('createdAt');

function toView(row: WaitlistEntry): WaitlistEntryView {
  return {
    id: row.id,
    eventId: row.eventId,
    ticketTypeId: row.ticketTypeId,
    name: row.name,
    email: row.email,
    groupSize: row.groupSize,
    status: row.status,
    bookingId: row.bookingId,
    offeredAt: row.offeredAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}

/**
 * The waitlist of an event, in queue order (created_at, id), cursor-paginated, optionally one status. One database
 * round trip (the event's existence beside the page): 404 for an unknown event or another organization's.
 */
export async function listWaitlist({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { eventId: string; status?: WaitlistEntry['status'] | undefined; limit: number; cursor?: string | undefined };
}): Promise<{ data: WaitlistEntryView[]; nextCursor: string | null }> {
  const organizationId = requireTenant(ctx).id;
  const db = ctx.services.db;
  const eventId = input.eventId.toLowerCase();
  const after = input.cursor === undefined ? null : decodeCursor(input.cursor);
  const conditions: SQL[] = [eq(waitlistEntries.organizationId, organizationId), eq(waitlistEntries.eventId, eventId)];
  if (input.status !== undefined) conditions.push(eq(waitlistEntries.status, input.status));
  if (after !== null) conditions.push(keysetAfter(waitlistEntries.createdAt, waitlistEntries.id, after, QUEUE_ORDER));
  const [found, rows] = await scoped(db, { organizationId }, [
    db
      .select({ id: events.id })
      .from(events)
      .where(and(eq(events.organizationId, organizationId), eq(events.id, eventId))),
    db
      .select({ entry: waitlistEntries, cursorAt: cursorTimestamp(waitlistEntries.createdAt) })
      .from(waitlistEntries)
      .where(and(...conditions))
      .orderBy(...keysetOrder(waitlistEntries.createdAt, waitlistEntries.id, QUEUE_ORDER))
      .limit(input.limit + 1),
  ]);
  if (found.length === 0) throw eventNotFound();
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    data: page.map((row) => toView(row.entry)),
    nextCursor:
      rows.length > input.limit && last !== undefined ? encodeCursor({ at: last.cursorAt, id: last.entry.id }) : null,
  };
}

/**
 * Staff remove a waiting entry (status `left`, kept for the record), with its audit row, in one round trip. An entry
 * already offered is not removed here (409): cancel the offer's booking instead, which passes the seats on.
 */
export async function removeWaitlistEntry({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { eventId: string; entryId: string };
}): Promise<void> {
  const organizationId = requireTenant(ctx).id;
  const db = ctx.services.db;
  const eventId = input.eventId.toLowerCase();
  const entryId = input.entryId.toLowerCase();
  try {
    await scoped(db, { organizationId }, [
      mustChange(
        db,
        db
          .update(waitlistEntries)
          .set({ status: 'left', updatedAt: sql`now()` })
          .where(
            and(
              eq(waitlistEntries.organizationId, organizationId),
              eq(waitlistEntries.eventId, eventId),
              eq(waitlistEntries.id, entryId),
              eq(waitlistEntries.status, 'waiting'),
            ),
          )
          .returning({ id: waitlistEntries.id }),
      ),
      auditInsert(db, ctx.client, {
        organizationId,
        actor: actorOf(ctx),
        action: 'waitlist.removed',
        target: { type: 'waitlist_entry', id: entryId },
        metadata: { eventId },
      }),
    ]);
  } catch (error) {
    if (!nothingChanged(error)) throw error;
    const [rows] = await scoped(db, { organizationId }, [
      db
        .select({ status: waitlistEntries.status })
        .from(waitlistEntries)
        .where(
          and(
            eq(waitlistEntries.organizationId, organizationId),
            eq(waitlistEntries.eventId, eventId),
            eq(waitlistEntries.id, entryId),
          ),
        ),
    ]);
    const row = rows[0];
    if (row === undefined) throw new ApiError('not_found', { detail: 'No waitlist entry with this id.' });
    throw new ApiError('conflict', {
      detail: `This entry is ${row.status}, not waiting: only waiting entries are removed (cancel an offer's booking).`,
    });
  }
}
