import { and, eq, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { events, ticketTypes, type Event, type TicketType, type Venue } from '../../db/schema/events.ts';
import { ApiError } from '../../errors/api-error.ts';
import { actorOf as actorOfPrincipal, type Actor } from '../audit/record.ts';
import { callerOf } from '../roles/authority.ts';
import type { ServiceContext } from '../../lib/context.ts';
import { databaseError } from '../users/guards.ts';

export type EventStatus = Event['status'];
export type EventVisibility = Event['visibility'];

/** Statuses in which an event (and its ticket types) may still change; cancelled and completed events are frozen. */
export const EDITABLE_STATUSES: readonly EventStatus[] = ['draft', 'published'];

export type BuyerCancellationPolicy = Event['buyerCancellation'];

/** An event as staff see it: every stored field except the tenant, times as ISO 8601 UTC. */
export interface EventView {
  id: string;
  slug: string;
  title: string;
  description: string;
  status: EventStatus;
  visibility: EventVisibility;
  timezone: string;
  startsAt: string;
  endsAt: string;
  venue: Venue | null;
  onlineUrl: string | null;
  categories: string[];
  coverImageUrl: string | null;
  capacity: number | null;
  transfersAllowed: boolean;
  transferCutoffMinutes: number;
  buyerCancellation: BuyerCancellationPolicy;
  buyerCancellationCutoffMinutes: number;
  attendeeEditCutoffMinutes: number | null;
  /** The recurring series this event is a date of, or null for a one-off event. */
  seriesId: string | null;
  publishedAt: string | null;
  cancelledAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export function toEventView(row: Event): EventView {
  return {
    id: row.id,
    slug: row.slug,
    title: row.title,
    description: row.description,
    status: row.status,
    visibility: row.visibility,
    timezone: row.timezone,
    startsAt: row.startsAt.toISOString(),
    endsAt: row.endsAt.toISOString(),
    venue: row.venue ?? null,
    onlineUrl: row.onlineUrl,
    categories: row.categories,
    coverImageUrl: row.coverImageUrl,
    capacity: row.capacity,
    transfersAllowed: row.transfersAllowed,
    transferCutoffMinutes: row.transferCutoffMinutes,
    buyerCancellation: row.buyerCancellation,
    buyerCancellationCutoffMinutes: row.buyerCancellationCutoffMinutes,
    attendeeEditCutoffMinutes: row.attendeeEditCutoffMinutes,
    seriesId: row.seriesId,
    publishedAt: row.publishedAt?.toISOString() ?? null,
    cancelledAt: row.cancelledAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** A ticket type as staff see it, with its sold and held counts and the access code of a hidden one. */
export interface TicketTypeView {
  id: string;
  eventId: string;
  name: string;
  description: string;
  price: number;
  currency: string;
  quantity: number;
  sold: number;
  held: number;
  remaining: number;
  salesStartAt: string | null;
  salesEndAt: string | null;
  minPerOrder: number;
  maxPerOrder: number;
  hidden: boolean;
  accessCode: string | null;
  sortOrder: number;
  taxRate: number;
  createdAt: string;
  updatedAt: string;
}

export function toTicketTypeView(row: TicketType): TicketTypeView {
  return {
    id: row.id,
    eventId: row.eventId,
    name: row.name,
    description: row.description,
    price: row.price,
    currency: row.currency,
    quantity: row.quantity,
    sold: row.sold,
    held: row.held,
    remaining: Math.max(0, row.quantity - row.sold - row.held),
    salesStartAt: row.salesStartAt?.toISOString() ?? null,
    salesEndAt: row.salesEndAt?.toISOString() ?? null,
    minPerOrder: row.minPerOrder,
    maxPerOrder: row.maxPerOrder,
    hidden: row.hidden,
    accessCode: row.accessCode,
    sortOrder: row.sortOrder,
    taxRate: row.taxRate,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function eventNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No event with this id.' });
}

export function ticketTypeNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No ticket type with this id.' });
}

export function frozenEvent(status: EventStatus): ApiError {
  return new ApiError('conflict', { detail: `The event is ${status}; it can no longer be changed.` });
}

export function concurrentChange(): ApiError {
  return new ApiError('conflict', { detail: 'The resource changed while this request ran; read it again and retry.' });
}

export function fieldError(pointer: string, message: string): ApiError {
  return new ApiError('validation_failed', {
    detail: 'The request does not match the schema.',
    errors: [{ pointer, message }],
  });
}

export function selectEvent(db: Database, organizationId: string, id: string) {
  return db
    .select()
    .from(events)
    .where(and(eq(events.organizationId, organizationId), eq(events.id, id)))
    .limit(1);
}

export function selectTicketType(db: Database, organizationId: string, id: string) {
  return db
    .select()
    .from(ticketTypes)
    .where(and(eq(ticketTypes.organizationId, organizationId), eq(ticketTypes.id, id)))
    .limit(1);
}

/** Prefix of the text a failed batch guard casts to int; its error message carries the label after it. */
export const GUARD_LABEL_PREFIX = 'eventra_guard:';
const CHANGE_GUARD = `${GUARD_LABEL_PREFIX}unchanged`;

/**
 * A batch statement that runs `write` (an UPDATE or DELETE ... RETURNING) and aborts the whole batch, audit row
 * included, when it matched no row: the write's WHERE clause carries the preconditions (status, counts), so the
 * check and the change are one atomic statement and two concurrent requests cannot both pass it.
 */
// Drizzle puts an embedded query in parentheses itself, which makes `with changed as (...)`.
// `label` (default `unchanged`) names the failed precondition; `abortLabel` reads it back from the error.
export function mustChange(db: Database, write: SQL | { getSQL(): SQL }, label = 'unchanged') {
  return db.execute(
    sql`with changed as ${write} select (case when exists (select 1 from changed) then '0' else ${GUARD_LABEL_PREFIX + label} end)::int as guard`,
  );
}

/** The label of the `mustChange` (or `guard`) statement that aborted a batch, e.g. `sold_out:<uuid>`; else null. */
export function abortLabel(error: unknown): string | null {
  const info = databaseError(error);
  if (info?.code !== '22P02') return null;
  return /eventra_guard:([a-z_]+(?::[0-9a-f-]{36})?)/.exec(info.message)?.[1] ?? null;
}

/** Whether a batch failed because a `mustChange` write matched nothing. */
export function nothingChanged(error: unknown): boolean {
  const info = databaseError(error);
  return info?.code === '22P02' && info.message.includes(CHANGE_GUARD);
}

/** The constraint a failed batch violated (unique 23505 or check 23514), if that is why it failed. */
export function violatedConstraint(error: unknown): string | null {
  const info = databaseError(error);
  if (info === null || (info.code !== '23505' && info.code !== '23514')) return null;
  return info.constraint ?? null;
}

/** The audit actor of the request's caller: the member, or their API key (see `actorOf` in audit/record.ts). */
export function actorOf(ctx: ServiceContext): Actor {
  return actorOfPrincipal(callerOf(ctx));
}

/** The fields an update request gives (undefined ones left out), without the path id: what the UPDATE sets. */
export function givenFields<T extends { id: string }>(input: T): Partial<Omit<T, 'id'>> {
  const { id: _id, ...fields } = input;
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<
    Omit<T, 'id'>
  >;
}
