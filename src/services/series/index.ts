import { and, asc, eq, gte, inArray, isNotNull, isNull, lt, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import type { Bindings } from '../../env.ts';
import {
  eventSeries,
  events,
  organizations,
  type EventSeries,
  type SeriesTicketType,
  type Venue,
} from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { cursorTimestamp, decodeCursor, encodeCursor, keysetAfter, keysetOrder, listSort } from '../../lib/cursor.ts';
import type { Logger } from '../../lib/logger.ts';
import { auditInsert } from '../audit/record.ts';
import {
  actorOf,
  EDITABLE_STATUSES,
  GUARD_LABEL_PREFIX,
  mustChange,
  nothingChanged,
  toEventView,
  type EventView,
} from '../events/shared.ts';
import { slugFromTitle } from '../events/write.ts';
import { isPlanLimit, planLimitError, quotaLimit } from '../plans/quotas.ts';
import type { Tenant } from '../tenants/types.ts';
import { seriesStarts } from '../formats/client.ts';
import { DEFAULT_HORIZON_DAYS, horizonEnd } from './horizon.ts';

export interface SeriesView {
  id: string;
  title: string;
  description: string;
  timezone: string;
  rrule: string;
  startLocal: string;
  durationMinutes: number;
  venue: Venue | null;
  capacity: number | null;
  ticketTypes: SeriesTicketType[];
  publish: 'draft' | 'published';
  horizonDays: number;
  materializedUntil: string | null;
  endedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface SeriesDateView extends EventView {
  seriesId: string;
  occurrenceStart: string;
  seriesDetached: boolean;
}

export interface CreateSeriesInput {
  title: string;
  description?: string | undefined;
  timezone: string;
  rrule: string;
  startLocal: string;
  durationMinutes: number;
  venue?: Venue | null | undefined;
  capacity?: number | null | undefined;
  ticketTypes: SeriesTicketType[];
  publish?: 'draft' | 'published' | undefined;
  horizonDays?: number | undefined;
}

export interface UpdateSeriesInput {
  id: string;
  from?: Date | undefined;
  title?: string | undefined;
  description?: string | undefined;
  venue?: Venue | null | undefined;
  capacity?: number | null | undefined;
}

function toSeriesView(row: EventSeries): SeriesView {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    timezone: row.timezone,
    rrule: row.rrule,
    startLocal: row.startLocal,
    durationMinutes: row.durationMinutes,
    venue: row.venue ?? null,
    capacity: row.capacity,
    ticketTypes: row.ticketTypes,
    publish: row.publish === 'published' ? 'published' : 'draft',
    horizonDays: row.horizonDays,
    materializedUntil: row.materializedUntil?.toISOString() ?? null,
    endedAt: row.endedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function seriesNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No event series with this id.' });
}

/** `20270302t1800`: the occurrence in the slug of its date, so dates of one series never share a slug. */
function occurrenceSlug(series: { id: string; title: string }, start: Date): string {
  const stamp = start.toISOString().slice(0, 16).replace(/[-:]/g, '').toLowerCase();
  const base = slugFromTitle(series.title).slice(0, 60).replace(/-+$/g, '') || 'event';
  return `${base}-${stamp}-${series.id.slice(0, 8)}`;
}

const publishedCount = (organizationId: string) =>
  sql`(select count(*) from ${events} where ${events.organizationId} = ${organizationId} and ${events.status} = 'published')`;

/**
 * The statement that inserts the missing dates of a series (and each date's ticket types from the template) in one
 * statement: dates that exist (same series and occurrence) are left alone, so materializing twice creates nothing
 * twice. Published dates take seats of the `publishedEvents` quota: at most the quota's remainder are inserted
 * (earliest first); the rest wait for a later run. Answers the number of dates inserted.
 */
function materializeStatement(
  db: Database,
  tenant: Tenant,
  series: { id: string; title: string; durationMinutes: number; publish: string; ticketTypes: SeriesTicketType[] },
  starts: Date[],
) {
  const dates = starts.map((start) => ({
    id: crypto.randomUUID(),
    slug: occurrenceSlug(series, start),
    starts_at: start.toISOString(),
    ends_at: new Date(start.getTime() + series.durationMinutes * 60_000).toISOString(),
  }));
  const types = series.ticketTypes.map((type, index) => ({ ...type, sortOrder: index }));
  const limit = series.publish === 'published' ? quotaLimit(tenant, 'publishedEvents') : null;
  const bound = limit === null ? sql`all` : sql`greatest(0, ${limit} - ${publishedCount(tenant.id)})`;
  return db.execute<{ created: number }>(sql`
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(dates)}::jsonb)
        as x(id uuid, slug text, starts_at timestamptz, ends_at timestamptz)
    ),
    inserted as (
      insert into ${events} (id, organization_id, slug, title, description, status, visibility, timezone, starts_at,
        ends_at, venue, capacity, series_id, occurrence_start, published_at)
      select i.id, s.organization_id, i.slug, s.title, s.description, s.publish::event_status, 'public', s.timezone,
        i.starts_at, i.ends_at, s.venue, s.capacity, s.id, i.starts_at,
        case when s.publish = 'published' then now() end
      from input i cross join ${eventSeries} s
      where s.organization_id = ${tenant.id} and s.id = ${series.id} and s.ended_at is null
        and not exists (select 1 from ${events} e where e.organization_id = ${tenant.id} and e.series_id = s.id
          and e.occurrence_start = i.starts_at)
      order by i.starts_at
      limit ${bound}
      on conflict do nothing
      returning id
    ),
    typed as (
      insert into ticket_types (organization_id, event_id, name, price, currency, quantity, max_per_order, sort_order)
      select ${tenant.id}, inserted.id, t.name, t.price, t.currency, t.quantity, t."maxPerOrder", t."sortOrder"
      from inserted cross join jsonb_to_recordset(${JSON.stringify(types)}::jsonb)
        as t(name text, price int, currency text, quantity int, "maxPerOrder" int, "sortOrder" int)
      returning 1
    )
    select (select count(*) from inserted)::int as created`);
}

/**
 * Creates a series and materializes its dates up to the horizon, in one round trip: the series row, the dates with
 * their ticket types, the audit row. The rule is checked first (400 with /body/rrule or /body/startLocal; more than
 * 366 dates within the horizon is refused). Published dates must all fit the `publishedEvents` quota (403
 * `plan_limit` otherwise, nothing written): the organization's row is locked first, as publishing does.
 */
export async function createSeries({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: CreateSeriesInput;
}): Promise<{ series: SeriesView; dates: number }> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const horizonDays = input.horizonDays ?? DEFAULT_HORIZON_DAYS;
  const now = new Date();
  const until = horizonEnd(now, horizonDays);
  const { rrule, startLocal, timezone } = input;
  const starts = await seriesStarts(ctx, { rrule, startLocal, timezone, from: now, until });
  const id = crypto.randomUUID();
  const publish = input.publish ?? 'draft';
  const series = {
    id,
    title: input.title,
    durationMinutes: input.durationMinutes,
    publish,
    ticketTypes: input.ticketTypes,
  };
  const limit = publish === 'published' ? quotaLimit(tenant, 'publishedEvents') : null;
  try {
    const [, , [row], materialized] = await scoped(db, { organizationId: tenant.id }, [
      db.execute(sql`select 1 as quota_lock from organizations where id = ${tenant.id} for no key update`),
      db.execute(
        limit === null
          ? sql`select 0 as guard`
          : sql`select (case when ${publishedCount(tenant.id)} + ${starts.length} <= ${limit} then '0' else ${GUARD_LABEL_PREFIX + 'plan_limit'} end)::int as guard`,
      ),
      db
        .insert(eventSeries)
        .values({
          id,
          organizationId: tenant.id,
          title: input.title,
          description: input.description ?? '',
          timezone: input.timezone,
          rrule: input.rrule.replace(/^RRULE:/i, ''),
          startLocal: input.startLocal,
          durationMinutes: input.durationMinutes,
          venue: input.venue ?? null,
          capacity: input.capacity ?? null,
          ticketTypes: input.ticketTypes,
          publish,
          horizonDays,
          materializedUntil: until,
        })
        .returning(),
      materializeStatement(db, tenant, series, starts),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'event_series.created',
        target: { type: 'event_series', id },
        metadata: { title: input.title, rrule: input.rrule, dates: starts.length },
      }),
    ]);
    if (!row) throw new Error('series insert returned nothing');
    return { series: toSeriesView(row), dates: materialized.rows[0]?.created ?? 0 };
  } catch (error) {
    if (isPlanLimit(error)) throw planLimitError(tenant, 'publishedEvents');
    throw error;
  }
}

export async function getSeries({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<SeriesView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [[row]] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select()
      .from(eventSeries)
      .where(and(eq(eventSeries.organizationId, tenant.id), eq(eventSeries.id, input.id.toLowerCase())))
      .limit(1),
  ]);
  if (!row) throw seriesNotFound();
  return toSeriesView(row);
}

const SERIES_ORDER = listSort('-createdAt');

/**
 * The organization's series, newest first, cursor-paginated; `ended` true or false keeps only the ended or the running
 * ones. One database round trip, served by event_series_organization_id_created_at_idx.
 */
export async function listSeries({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { limit: number; cursor?: string | undefined; ended?: boolean | undefined };
}): Promise<{ data: SeriesView[]; nextCursor: string | null }> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const after = input.cursor === undefined ? null : decodeCursor(input.cursor);
  const conditions: SQL[] = [eq(eventSeries.organizationId, tenant.id)];
  if (input.ended !== undefined)
    conditions.push(input.ended ? isNotNull(eventSeries.endedAt) : isNull(eventSeries.endedAt));
  if (after !== null) conditions.push(keysetAfter(eventSeries.createdAt, eventSeries.id, after, SERIES_ORDER));
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({ series: eventSeries, cursorAt: cursorTimestamp(eventSeries.createdAt) })
      .from(eventSeries)
      .where(and(...conditions))
      .orderBy(...keysetOrder(eventSeries.createdAt, eventSeries.id, SERIES_ORDER))
      .limit(input.limit + 1),
  ]);
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    data: page.map((row) => toSeriesView(row.series)),
    nextCursor:
      rows.length > input.limit && last !== undefined ? encodeCursor({ at: last.cursorAt, id: last.series.id }) : null,
  };
}

export const MAX_DATES_LISTED = 366;

/** The dates of a series starting at or after `from` (default: all), earliest first, at most 366. */
export async function listSeriesDates({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; from?: Date | undefined };
}): Promise<SeriesDateView[]> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const id = input.id.toLowerCase();
  const [[series], rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({ id: eventSeries.id })
      .from(eventSeries)
      .where(and(eq(eventSeries.organizationId, tenant.id), eq(eventSeries.id, id))),
    db
      .select()
      .from(events)
      .where(
        and(
          eq(events.organizationId, tenant.id),
          eq(events.seriesId, id),
          input.from === undefined ? undefined : gte(events.startsAt, input.from),
        ),
      )
      .orderBy(asc(events.startsAt), asc(events.id))
      .limit(MAX_DATES_LISTED),
  ]);
  if (!series) throw seriesNotFound();
  return rows.map((row) => ({
    ...toEventView(row),
    seriesId: id,
    occurrenceStart: (row.occurrenceStart ?? row.startsAt).toISOString(),
    seriesDetached: row.seriesDetached,
  }));
}

/**
 * "All future dates": changes the template and, in the same statement batch, the dates starting at or after `from`
 * (default now) that are draft or published, were not edited on their own (`seriesDetached`) and have no seats sold
 * or held. Dates with bookings keep their values (their buyers bought those), as do detached dates; both are counted
 * in `skipped`. One round trip.
 */
export async function updateSeries({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: UpdateSeriesInput;
}): Promise<{ series: SeriesView; updated: number; skipped: number }> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const id = input.id.toLowerCase();
  const from = input.from ?? new Date();
  const changes = Object.fromEntries(
    Object.entries({
      title: input.title,
      description: input.description,
      venue: input.venue,
      capacity: input.capacity,
    }).filter(([, value]) => value !== undefined),
  );
  const future = and(
    eq(events.organizationId, tenant.id),
    eq(events.seriesId, id),
    gte(events.startsAt, from),
    inArray(events.status, [...EDITABLE_STATUSES]),
  );
  const seriesOfTenant = and(eq(eventSeries.organizationId, tenant.id), eq(eventSeries.id, id));
  let results;
  try {
    results = await scoped(db, { organizationId: tenant.id }, [
      // Aborts the batch (audit row included) when the organization has no such series: 404.
      mustChange(
        db,
        db
          .update(eventSeries)
          .set({ ...changes, updatedAt: sql`now()` })
          .where(seriesOfTenant)
          .returning({ id: eventSeries.id }),
      ),
      db
        .update(events)
        .set({ ...changes, updatedAt: sql`now()` })
        .where(and(future, eq(events.seriesDetached, false), eq(events.sold, 0), eq(events.held, 0)))
        .returning({ id: events.id }),
      db
        .select({ count: sql<number>`count(*)::int` })
        .from(events)
        .where(and(future, sql`(${events.seriesDetached} or ${events.sold} + ${events.held} > 0)`)),
      db.select().from(eventSeries).where(seriesOfTenant),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'event_series.updated',
        target: { type: 'event_series', id },
        metadata: { fields: Object.keys(changes), from: from.toISOString() },
      }),
    ]);
  } catch (error) {
    if (nothingChanged(error)) throw seriesNotFound();
    throw error;
  }
  const [, updated, [skipped], [row]] = results;
  if (!row) throw seriesNotFound();
  return { series: toSeriesView(row), updated: updated.length, skipped: skipped?.count ?? 0 };
}

/** How many series one cron run extends at most (each is one round trip). */
export const SERIES_PER_SWEEP = 50;

/**
 * The cron's horizon extension: series whose materialized horizon is more than a day behind `now + horizonDays` get
 * their missing dates inserted (the same idempotent statement as on create, bounded by the quota's remainder), then
 * their `materializedUntil` moved. One platform read, then one round trip per series, at most 50 series per run.
 */
export async function extendSeries(
  db: Database,
  bindings: Pick<Bindings, 'FORMATS'>,
  logger: Logger,
  now = new Date(),
): Promise<{ series: number; dates: number }> {
  const [due] = await scoped(db, { platform: true }, [
    db
      .select({ series: eventSeries, plan: organizations.plan, planOverrides: organizations.planOverrides })
      .from(eventSeries)
      .innerJoin(organizations, eq(organizations.id, eventSeries.organizationId))
      .where(
        and(
          isNull(eventSeries.endedAt),
          lt(
            eventSeries.materializedUntil,
            sql`${now.toISOString()}::timestamptz + (${eventSeries.horizonDays} - 1) * interval '1 day'`,
          ),
        ),
      )
      .orderBy(asc(eventSeries.materializedUntil))
      .limit(SERIES_PER_SWEEP),
  ]);
  let dates = 0;
  for (const { series, plan, planOverrides } of due) {
    const until = horizonEnd(now, series.horizonDays);
    const { rrule, startLocal, timezone } = series;
    const starts = await seriesStarts({ bindings, logger }, { rrule, startLocal, timezone, from: now, until });
    const tenant = { id: series.organizationId, plan, planOverrides } as Tenant;
    const [materialized] = await scoped(db, { organizationId: series.organizationId }, [
      materializeStatement(db, tenant, series, starts),
      db
        .update(eventSeries)
        .set({ materializedUntil: until, updatedAt: sql`now()` })
        .where(and(eq(eventSeries.organizationId, series.organizationId), eq(eventSeries.id, series.id))),
    ]);
    dates += materialized.rows[0]?.created ?? 0;
  }
  if (due.length > 0) logger.info('series extended', { series: due.length, dates });
  return { series: due.length, dates };
}

/**
 * Ends a series: no date is materialized any more (`endedAt`), future draft dates are deleted, future published
 * dates without seats sold or held are cancelled, and future dates with bookings are kept (cancel them one by one
 * with the event cancel, which tells their buyers). Past dates stay. One round trip; a series already ended or of
 * another organization answers 404 / 409.
 */
export async function endSeries({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<{ series: SeriesView; deleted: number; cancelled: number; kept: number }> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const id = input.id.toLowerCase();
  const seriesOfTenant = and(eq(eventSeries.organizationId, tenant.id), eq(eventSeries.id, id));
  const future = and(eq(events.organizationId, tenant.id), eq(events.seriesId, id), sql`${events.startsAt} > now()`);
  const [[current]] = await scoped(db, { organizationId: tenant.id }, [
    db.select().from(eventSeries).where(seriesOfTenant),
  ]);
  if (!current) throw seriesNotFound();
  if (current.endedAt !== null) throw new ApiError('conflict', { detail: 'The series has already ended.' });
  let results;
  try {
    results = await scoped(db, { organizationId: tenant.id }, [
      mustChange(
        db,
        db
          .update(eventSeries)
          .set({ endedAt: sql`now()`, updatedAt: sql`now()` })
          .where(and(seriesOfTenant, isNull(eventSeries.endedAt)))
          .returning({ id: eventSeries.id }),
      ),
      db
        .delete(events)
        .where(and(future, eq(events.status, 'draft'), eq(events.sold, 0), eq(events.held, 0)))
        .returning({ id: events.id }),
      db
        .update(events)
        .set({ status: 'cancelled', cancelledAt: sql`now()`, updatedAt: sql`now()` })
        .where(and(future, eq(events.status, 'published'), eq(events.sold, 0), eq(events.held, 0)))
        .returning({ id: events.id }),
      db
        .select({ count: sql<number>`count(*)::int` })
        .from(events)
        .where(and(future, inArray(events.status, [...EDITABLE_STATUSES]), sql`${events.sold} + ${events.held} > 0`)),
      db.select().from(eventSeries).where(seriesOfTenant),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'event_series.ended',
        target: { type: 'event_series', id },
        metadata: { title: current.title },
      }),
    ]);
  } catch (error) {
    if (nothingChanged(error)) throw new ApiError('conflict', { detail: 'The series has already ended.' });
    throw error;
  }
  const [, deleted, cancelled, [kept], [row]] = results;
  if (!row) throw seriesNotFound();
  return { series: toSeriesView(row), deleted: deleted.length, cancelled: cancelled.length, kept: kept?.count ?? 0 };
}
