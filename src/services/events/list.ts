import { and, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import { events } from '../../db/schema/events.ts';
import { scoped } from '../../db/tenant.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { cursorTimestamp, decodeCursor, encodeCursor, keysetAfter, keysetOrder, listSort } from '../../lib/cursor.ts';
import { toEventView, type EventStatus, type EventView, type EventVisibility } from './shared.ts';
import { escapeLike } from '../../lib/text.ts';

export interface ListEventsInput {
  status?: EventStatus | undefined;
  visibility?: EventVisibility | undefined;
  /** Only events starting at or after this instant. */
  from?: Date | undefined;
  /** Only events starting before this instant. */
  to?: Date | undefined;
  /** Case-insensitive substring of the title. */
  q?: string | undefined;
  limit: number;
  cursor?: string | undefined;
  /** `startsAt` (default), `-startsAt`, `createdAt` or `-createdAt`. */
  sort?: EventSort | undefined;
}

export type EventSort = 'startsAt' | '-startsAt' | 'createdAt' | '-createdAt';
const DEFAULT_SORT: EventSort = 'startsAt';

export interface EventPage {
  data: EventView[];
  nextCursor: string | null;
}

/**
 * One page of the organization's events in the `sort` order, (starts_at, id) by default or (created_at, id), either
 * way, after the cursor. The cursor is the same opaque keyset as the member list's (a microsecond timestamp and a
 * uuid), here the last event's start or creation and id, and the sort it was made under. One database round trip,
 * served by events_organization_id_starts_at_idx or events_organization_id_created_at_idx (read backwards when
 * descending).
 */
export async function listEvents({ ctx, input }: { ctx: ServiceContext; input: ListEventsInput }): Promise<EventPage> {
  const tenant = requireTenant(ctx);
  const sort = listSort(input.sort ?? DEFAULT_SORT);
  const at = sort.field === 'createdAt' ? events.createdAt : events.startsAt;
  const after =
    input.cursor === undefined ? null : decodeCursor(input.cursor, { current: sort, defaultSort: DEFAULT_SORT });
  const conditions: SQL[] = [eq(events.organizationId, tenant.id)];
  if (input.status !== undefined) conditions.push(eq(events.status, input.status));
  if (input.visibility !== undefined) conditions.push(eq(events.visibility, input.visibility));
  if (input.from !== undefined) conditions.push(gte(events.startsAt, input.from));
  if (input.to !== undefined) conditions.push(lt(events.startsAt, input.to));
  if (input.q !== undefined) {
    conditions.push(sql`lower(${events.title}) like lower(${`%${escapeLike(input.q)}%`})`);
  }
  if (after !== null) conditions.push(keysetAfter(at, events.id, after, sort));

  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({
        event: events,
        cursorAt: cursorTimestamp(at),
      })
      .from(events)
      .where(and(...conditions))
      .orderBy(...keysetOrder(at, events.id, sort))
      .limit(input.limit + 1),
  ]);
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    data: page.map((row) => toEventView(row.event)),
    nextCursor:
      rows.length > input.limit && last !== undefined
        ? encodeCursor({ at: last.cursorAt, id: last.event.id }, sort)
        : null,
  };
}
