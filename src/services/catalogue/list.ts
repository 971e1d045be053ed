import { and, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import { events } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { cursorTimestamp, decodeCursor, encodeCursor, keysetAfter, keysetOrder, listSort } from '../../lib/cursor.ts';
import { publicEventColumns, toPublicEvent, type PublicEvent } from './events.ts';
import { escapeLike } from '../../lib/text.ts';

export interface ListPublicEventsInput {
  /** ISO 8601 instant: only events starting at or after it (replaces the default "not ended yet"). */
  from?: string | undefined;
  /** ISO 8601 instant: only events starting before it. */
  to?: string | undefined;
  /** One category, matched exactly. */
  category?: string | undefined;
  /** Case-insensitive text anywhere in the title. */
  q?: string | undefined;
  /** Only the dates of this recurring series. */
  seriesId?: string | undefined;
  limit: number;
  cursor?: string | undefined;
  /** `startsAt` (default, soonest first) or `-startsAt`. */
  sort?: PublicEventSort | undefined;
}

export type PublicEventSort = 'startsAt' | '-startsAt';
const DEFAULT_SORT: PublicEventSort = 'startsAt';

export interface PublicEventPage {
  data: PublicEvent[];
  nextCursor: string | null;
}

/**
 * One page of the organization's published, public events, by start time (starts_at, id; latest first with sort=-startsAt) after the cursor. Without
 * `from`, only events that have not ended yet. One database round trip: a single query in one scoped batch.
 */
export async function listPublicEvents({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListPublicEventsInput;
}): Promise<PublicEventPage> {
  const tenant = requireTenant(ctx);
  const sort = listSort(input.sort ?? DEFAULT_SORT);
  const after =
    input.cursor === undefined ? null : decodeCursor(input.cursor, { current: sort, defaultSort: DEFAULT_SORT });
  const conditions: SQL[] = [
    eq(events.organizationId, tenant.id),
    eq(events.status, 'published'),
    eq(events.visibility, 'public'),
    input.from === undefined ? gte(events.endsAt, sql`now()`) : gte(events.startsAt, new Date(input.from)),
  ];
  if (input.to !== undefined) conditions.push(lt(events.startsAt, new Date(input.to)));
  if (input.category !== undefined) {
    conditions.push(sql`${events.categories} @> array[${input.category}]::text[]`);
  }
  if (input.q !== undefined) {
    conditions.push(sql`${events.title} ilike ${`%${escapeLike(input.q)}%`}`);
  }
  if (input.seriesId !== undefined) conditions.push(eq(events.seriesId, input.seriesId.toLowerCase()));
  if (after !== null) conditions.push(keysetAfter(events.startsAt, events.id, after, sort));

  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({
        ...publicEventColumns,
        cursorAt: cursorTimestamp(events.startsAt),
      })
      .from(events)
      .where(and(...conditions))
      .orderBy(...keysetOrder(events.startsAt, events.id, sort))
      .limit(input.limit + 1),
  ]);

  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    data: page.map(toPublicEvent),
    nextCursor:
      rows.length > input.limit && last !== undefined ? encodeCursor({ at: last.cursorAt, id: last.id }, sort) : null,
  };
}

/**
 * The first instant after `now` at which a page changes by itself: without `from`, a listed event ending leaves the
 * list (and the next one moves up). With `from`, nothing in it depends on the clock.
 */
export function publicListChangesAt(
  page: { data: readonly { endsAt: string }[] },
  input: Pick<ListPublicEventsInput, 'from'>,
  now: number,
): number {
  if (input.from !== undefined) return Number.POSITIVE_INFINITY;
  let next = Number.POSITIVE_INFINITY;
  for (const { endsAt } of page.data) {
    const at = Date.parse(endsAt);
    if (at >= now && at < next) next = at;
  }
  return next;
}
