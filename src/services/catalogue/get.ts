import { and, asc, eq, inArray, or, sql, type SQL } from 'drizzle-orm';
import { eventQuestions, events, ticketTypes, type EventQuestion } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { publicEventColumns, toPublicEvent, type PublicEvent } from './events.ts';

/** A ticket type as the public sees it: never sold/held counts nor the access code. */
export interface PublicTicketType {
  id: string;
  eventId: string;
  name: string;
  description: string;
  price: number;
  currency: string;
  remaining: number;
  salesStartAt: string | null;
  salesEndAt: string | null;
  minPerOrder: number;
  maxPerOrder: number;
  hidden: boolean;
  onSale: boolean;
}

export interface PublicEventDetail extends PublicEvent {
  status: 'published' | 'cancelled' | 'completed';
  ticketTypes: PublicTicketType[];
  questions: PublicQuestion[];
}

/** An attendee question as buyers see it (issue #18 part 3): live questions of the ticket types listed. */
export interface PublicQuestion {
  key: string;
  label: string;
  type: EventQuestion['type'];
  level: EventQuestion['level'];
  ticketTypeId: string | null;
  required: boolean;
  options: string[];
  minimum: number | null;
  maximum: number | null;
}

export interface GetPublicEventInput {
  slug: string;
  accessCode?: string | undefined;
}

// Published events are on sale; cancelled and completed ones stay reachable by their link so buyers learn what
// happened, with no ticket types. Drafts never leave the organization.
const SHOWN_STATUSES = ['published', 'cancelled', 'completed'] as const;
const SHOWN_VISIBILITIES = ['public', 'unlisted'] as const;

/**
 * A published (or cancelled/completed) public or unlisted event by slug, with its ticket types: those not hidden,
 * plus hidden ones whose access code equals `accessCode` (compared in SQL; a wrong code shows nothing more and is
 * indistinguishable from a code that does not exist). One database round trip: both queries in one scoped batch.
 */
export async function getPublicEvent({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: GetPublicEventInput;
}): Promise<PublicEventDetail> {
  const tenant = requireTenant(ctx);
  const eventConditions = and(
    eq(events.organizationId, tenant.id),
    eq(events.slug, input.slug),
    inArray(events.status, [...SHOWN_STATUSES]),
    inArray(events.visibility, [...SHOWN_VISIBILITIES]),
  );
  const visible: SQL | undefined =
    input.accessCode === undefined
      ? eq(ticketTypes.hidden, false)
      : or(eq(ticketTypes.hidden, false), eq(ticketTypes.accessCode, input.accessCode));

  const db = ctx.services.db;
  const [eventRows, ticketRows, questionRows] = await scoped(db, { organizationId: tenant.id }, [
    db.select(publicEventColumns).from(events).where(eventConditions).limit(1),
    db
      .select({
        id: ticketTypes.id,
        eventId: ticketTypes.eventId,
        name: ticketTypes.name,
        description: ticketTypes.description,
        price: ticketTypes.price,
        currency: ticketTypes.currency,
        remaining:
          sql<number>`greatest(0, ${ticketTypes.quantity} - ${ticketTypes.sold} - ${ticketTypes.held})`.mapWith(Number),
        salesStartAt: ticketTypes.salesStartAt,
        salesEndAt: ticketTypes.salesEndAt,
        minPerOrder: ticketTypes.minPerOrder,
        maxPerOrder: ticketTypes.maxPerOrder,
        hidden: ticketTypes.hidden,
        inWindow:
          sql<boolean>`(${ticketTypes.salesStartAt} is null or ${ticketTypes.salesStartAt} <= now()) and (${ticketTypes.salesEndAt} is null or ${ticketTypes.salesEndAt} > now())`.mapWith(
            Boolean,
          ),
      })
      .from(ticketTypes)
      .innerJoin(events, and(eq(events.organizationId, ticketTypes.organizationId), eq(events.id, ticketTypes.eventId)))
      .where(and(eq(ticketTypes.organizationId, tenant.id), eventConditions, eq(events.status, 'published'), visible))
      .orderBy(asc(ticketTypes.sortOrder), asc(ticketTypes.id)),
    db
      .select({
        key: eventQuestions.key,
        label: eventQuestions.label,
        type: eventQuestions.type,
        level: eventQuestions.level,
        ticketTypeId: eventQuestions.ticketTypeId,
        required: eventQuestions.required,
        options: eventQuestions.options,
        minimum: eventQuestions.minimum,
        maximum: eventQuestions.maximum,
      })
      .from(eventQuestions)
      .innerJoin(
        events,
        and(eq(events.organizationId, eventQuestions.organizationId), eq(events.id, eventQuestions.eventId)),
      )
      .where(
        and(
          eq(eventQuestions.organizationId, tenant.id),
          eventConditions,
          eq(events.status, 'published'),
          eq(eventQuestions.archived, false),
        ),
      )
      .orderBy(asc(eventQuestions.position), asc(eventQuestions.key)),
  ]);

  const event = eventRows[0];
  // Drafts are filtered out in SQL; the status test narrows the type.
  if (event === undefined || event.status === 'draft') {
    throw new ApiError('not_found', { detail: 'No event with this slug.' });
  }
  return {
    ...toPublicEvent(event),
    status: event.status,
    ticketTypes: ticketRows.map((row) => ({
      id: row.id,
      eventId: row.eventId,
      name: row.name,
      description: row.description,
      price: row.price,
      currency: row.currency,
      remaining: row.remaining,
      salesStartAt: row.salesStartAt?.toISOString() ?? null,
      salesEndAt: row.salesEndAt?.toISOString() ?? null,
      minPerOrder: row.minPerOrder,
      maxPerOrder: row.maxPerOrder,
      hidden: row.hidden,
      onSale: row.inWindow && row.remaining > 0,
    })),
    // Questions of a hidden ticket type show only with its access code, as the ticket type does.
    questions: questionRows.filter(
      (question) => question.ticketTypeId === null || ticketRows.some((row) => row.id === question.ticketTypeId),
    ),
  };
}

/**
 * The first instant after `now` at which a detail answer changes by itself: a ticket type's sales window opening or
 * closing (`onSale`). Nothing else in it depends on the clock.
 */
export function publicEventChangesAt(
  event: { ticketTypes: readonly { salesStartAt: string | null; salesEndAt: string | null }[] },
  now: number,
): number {
  let next = Number.POSITIVE_INFINITY;
  for (const { salesStartAt, salesEndAt } of event.ticketTypes) {
    for (const edge of [salesStartAt, salesEndAt]) {
      const at = edge === null ? Number.NaN : Date.parse(edge);
      if (at > now && at < next) next = at;
    }
  }
  return next;
}
