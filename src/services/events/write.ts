import { and, eq, inArray, like, or, sql } from 'drizzle-orm';
import { events, type Venue } from '../../db/schema/events.ts';
import { files } from '../../db/schema/files.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditInsert } from '../audit/record.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertSelect } from '../outbox/record.ts';
import { eventData } from '../outbox/views.ts';
import {
  actorOf,
  concurrentChange,
  EDITABLE_STATUSES,
  eventNotFound,
  fieldError,
  frozenEvent,
  mustChange,
  nothingChanged,
  selectEvent,
  toEventView,
  violatedConstraint,
  type EventView,
  type BuyerCancellationPolicy,
  type EventVisibility,
  givenFields,
} from './shared.ts';

export interface EventFields {
  slug?: string | undefined;
  title?: string | undefined;
  description?: string | undefined;
  visibility?: EventVisibility | undefined;
  timezone?: string | undefined;
  startsAt?: Date | undefined;
  endsAt?: Date | undefined;
  venue?: Venue | null | undefined;
  onlineUrl?: string | null | undefined;
  categories?: string[] | undefined;
  coverImageUrl?: string | null | undefined;
  capacity?: number | null | undefined;
  transfersAllowed?: boolean | undefined;
  transferCutoffMinutes?: number | undefined;
  buyerCancellation?: BuyerCancellationPolicy | undefined;
  buyerCancellationCutoffMinutes?: number | undefined;
  attendeeEditCutoffMinutes?: number | null | undefined;
}

export interface CreateEventInput extends EventFields {
  title: string;
  timezone: string;
  startsAt: Date;
  endsAt: Date;
}

const SLUG_CONSTRAINT = 'events_organization_id_slug_key';
const MAX_BASE_SLUG = 80;

function capacityBelowTaken(taken: number): ApiError {
  return new ApiError('conflict', {
    detail: `The capacity cannot go below the ${taken} tickets already sold or held.`,
  });
}

function duplicateSlug(): ApiError {
  return new ApiError('conflict', { detail: 'Another event of this organization already uses this slug.' });
}

/** A URL slug from a title: ASCII letters and digits joined by single hyphens ("Café Nights 2026" -> "cafe-nights-2026"). */
export function slugFromTitle(title: string): string {
  const base = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, MAX_BASE_SLUG)
    .replace(/^-+|-+$/g, '');
  return base === '' ? 'event' : base;
}

/** The first of `base`, `base-2`, `base-3`, ... that no event of the organization uses. */
export function firstFreeSlug(base: string, taken: Set<string>): string {
  if (!taken.has(base)) return base;
  for (let suffix = 2; ; suffix += 1) {
    const candidate = `${base}-${suffix}`;
    if (!taken.has(candidate)) return candidate;
  }
}

function randomSuffix(): string {
  return crypto.randomUUID().replaceAll('-', '').slice(0, 8);
}

export async function getEvent({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<EventView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [[row]] = await scoped(db, { organizationId: tenant.id }, [selectEvent(db, tenant.id, input.id.toLowerCase())]);
  if (!row) throw eventNotFound();
  return toEventView(row);
}

/**
 * Creates a draft event. Without a slug, one is made from the title and made unique in the organization
 * (`title`, `title-2`, ...); a slug that is given and taken answers 409. Two round trips when the slug is generated
 * (the taken slugs are read first), one otherwise.
 */
export async function createEvent({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: CreateEventInput;
}): Promise<EventView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id };
  let slug = input.slug;
  const generated = slug === undefined;
  if (slug === undefined) {
    const base = slugFromTitle(input.title);
    const [rows] = await scoped(db, scope, [
      db
        .select({ slug: events.slug })
        .from(events)
        .where(and(eq(events.organizationId, tenant.id), or(eq(events.slug, base), like(events.slug, `${base}-%`)))),
    ]);
    slug = firstFreeSlug(base, new Set(rows.map((row) => row.slug)));
  }

  const insert = async (chosen: string) => {
    const id = crypto.randomUUID();
    const [inserted] = await scoped(db, scope, [
      db
        .insert(events)
        .values({
          id,
          organizationId: tenant.id,
          slug: chosen,
          title: input.title,
          description: input.description ?? '',
          visibility: input.visibility ?? 'public',
          timezone: input.timezone,
          startsAt: input.startsAt,
          endsAt: input.endsAt,
          venue: input.venue ?? null,
          onlineUrl: input.onlineUrl ?? null,
          categories: input.categories ?? [],
          coverImageUrl: input.coverImageUrl ?? null,
          capacity: input.capacity ?? null,
          transfersAllowed: input.transfersAllowed ?? true,
          transferCutoffMinutes: input.transferCutoffMinutes ?? 0,
          buyerCancellation: input.buyerCancellation ?? 'none',
          buyerCancellationCutoffMinutes: input.buyerCancellationCutoffMinutes ?? 0,
          attendeeEditCutoffMinutes: input.attendeeEditCutoffMinutes ?? null,
        })
        .returning(),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'event.created',
        target: { type: 'event', id },
        metadata: { slug: chosen, title: input.title },
      }),
      outboxInsertSelect(db, { organizationId: tenant.id, type: 'event.created', data: eventData(tenant.id, id) }),
    ]);
    const [row] = inserted;
    if (!row) throw new Error('event insert returned nothing');
    notifyOutbox(ctx, tenant.id);
    return toEventView(row);
  };

  try {
    return await insert(slug);
  } catch (error) {
    if (violatedConstraint(error) !== SLUG_CONSTRAINT) throw error;
    if (!generated) throw duplicateSlug();
  }
  // A concurrent create took the generated slug between the read and the insert: a random suffix cannot collide.
  return insert(`${slugFromTitle(input.title).slice(0, MAX_BASE_SLUG)}-${randomSuffix()}`);
}

/**
 * Changes the given fields of a draft or published event. The end must stay after the start, checked against the
 * stored values for the side not given. The write is conditional on the status, so a concurrent cancel in between
 * answers 409 instead of being overwritten; a concurrent time change that would put the end before the start is
 * refused by the table's check (also 409). The capacity may not go below the seats sold or held (409), a rule the
 * UPDATE's WHERE clause repeats, so a sale that lands between the read and the write also answers 409.
 */
export async function updateEvent({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: EventFields & { id: string };
}): Promise<EventView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id };
  const id = input.id.toLowerCase();
  const [[current]] = await scoped(db, scope, [selectEvent(db, tenant.id, id)]);
  if (!current) throw eventNotFound();
  if (!EDITABLE_STATUSES.includes(current.status)) throw frozenEvent(current.status);
  const startsAt = input.startsAt ?? current.startsAt;
  const endsAt = input.endsAt ?? current.endsAt;
  if (endsAt.getTime() <= startsAt.getTime()) {
    throw fieldError(input.endsAt === undefined ? '/body/startsAt' : '/body/endsAt', 'endsAt must be after startsAt');
  }

  const changes = givenFields(input) as Partial<typeof events.$inferInsert>;
  const changed = Object.keys(changes);
  if (changed.length === 0) return toEventView(current);
  const taken = current.sold + current.held;
  const capacity = changes.capacity;
  if (typeof capacity === 'number' && capacity < taken) throw capacityBelowTaken(taken);

  try {
    const [, [row]] = await scoped(db, scope, [
      mustChange(
        db,
        db
          .update(events)
          .set({
            ...changes,
            // Recurring events: a date edited on its own ("this date") is skipped by the series' future edits.
            ...(current.seriesId === null ? {} : { seriesDetached: true }),
            updatedAt: sql`now()`,
          })
          .where(
            and(
              eq(events.organizationId, tenant.id),
              eq(events.id, id),
              inArray(events.status, [...EDITABLE_STATUSES]),
              // Repeated at write time: a sale between the read and the write makes the change fail (409).
              typeof capacity === 'number' ? sql`${events.sold} + ${events.held} <= ${capacity}` : undefined,
            ),
          )
          .returning({ id: events.id }),
      ),
      selectEvent(db, tenant.id, id),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'event.updated',
        target: { type: 'event', id },
        metadata: {
          fields: changed,
          before: Object.fromEntries(changed.map((key) => [key, current[key as keyof typeof current]])),
        },
      }),
      outboxInsertSelect(db, { organizationId: tenant.id, type: 'event.updated', data: eventData(tenant.id, id) }),
    ]);
    if (!row) throw eventNotFound();
    notifyOutbox(ctx, tenant.id);
    return toEventView(row);
  } catch (error) {
    if (nothingChanged(error)) throw concurrentChange();
    const constraint = violatedConstraint(error);
    if (constraint === SLUG_CONSTRAINT) throw duplicateSlug();
    // A concurrent change of the other time made this one invalid: the table's check refused it.
    if (constraint === 'events_ends_after_starts' || constraint === 'events_counts') throw concurrentChange();
    throw error;
  }
}

/** Deletes a draft (its ticket types go with it). Anything else has been public: cancel it instead (409). */
export async function deleteEvent({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<void> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id };
  const id = input.id.toLowerCase();
  const [[current]] = await scoped(db, scope, [selectEvent(db, tenant.id, id)]);
  if (!current) throw eventNotFound();
  const notDraft = () =>
    new ApiError('conflict', {
      detail: `Only draft events can be deleted; this one is ${current.status}. Cancel it instead.`,
    });
  if (current.status !== 'draft') throw notDraft();
  let covers: { objectKey: string }[];
  try {
    [covers] = await scoped(db, scope, [
      // The event's cover image (its R2 object is deleted after the commit; the row would also go by cascade).
      db
        .delete(files)
        .where(and(eq(files.organizationId, tenant.id), eq(files.eventId, id)))
        .returning({ objectKey: files.objectKey }),
      mustChange(
        db,
        db
          .delete(events)
          .where(and(eq(events.organizationId, tenant.id), eq(events.id, id), eq(events.status, 'draft')))
          .returning({ id: events.id }),
      ),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'event.deleted',
        target: { type: 'event', id },
        metadata: { slug: current.slug, title: current.title },
      }),
    ]);
  } catch (error) {
    if (nothingChanged(error)) throw concurrentChange();
    throw error;
  }
  await Promise.all(covers.map((cover) => ctx.bindings.FILES.delete(cover.objectKey)));
}
