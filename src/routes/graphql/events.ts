import type { CapacityPoolView } from '../../services/events/capacity-pools.ts';
import { eventAvailability, type EventAvailability } from '../../services/events/batch.ts';
import { listEvents } from '../../services/events/list.ts';
import type { EventView, TicketTypeView } from '../../services/events/shared.ts';
import { getEvent } from '../../services/events/write.ts';
import type { Venue } from '../../db/schema/events.ts';
import {
  DEFAULT_PAGE_SIZE,
  EVENT_STATUSES,
  EVENT_VISIBILITIES,
  EventListQuerySchema,
  MAX_PAGE_SIZE,
} from '../events/schema.ts';
import { builder, given, need, orNull, parseArgs } from './builder.ts';
import { connection, pageArgs, restPage } from './connection.ts';

export const EventStatus = builder.enumType('EventStatus', { values: EVENT_STATUSES });
export const EventVisibility = builder.enumType('EventVisibility', { values: EVENT_VISIBILITIES });
const EventSort = builder.enumType('EventSort', {
  description: 'The REST `sort` values: `startsAt` ascending (default), descending, or by creation.',
  values: {
    STARTS_AT: { value: 'startsAt' },
    STARTS_AT_DESC: { value: '-startsAt' },
    CREATED_AT: { value: 'createdAt' },
    CREATED_AT_DESC: { value: '-createdAt' },
  } as const,
});

const VenueRef = builder.objectRef<Venue>('Venue').implement({
  description: 'Where the event takes place.',
  fields: (t) => ({
    name: t.exposeString('name'),
    address: t.string({ nullable: true, resolve: (venue) => venue.address ?? null }),
    city: t.string({ nullable: true, resolve: (venue) => venue.city ?? null }),
    country: t.string({ nullable: true, resolve: (venue) => venue.country ?? null }),
    latitude: t.float({ nullable: true, resolve: (venue) => venue.latitude ?? null }),
    longitude: t.float({ nullable: true, resolve: (venue) => venue.longitude ?? null }),
  }),
});

export const TicketTypeRef = builder.objectRef<TicketTypeView>('TicketType').implement({
  description: 'A ticket type as staff see it (REST `TicketType`), with its sold, held and remaining counts.',
  fields: (t) => ({
    id: t.exposeID('id'),
    eventId: t.exposeID('eventId'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    price: t.exposeInt('price', { description: 'Minor units.' }),
    currency: t.exposeString('currency'),
    quantity: t.exposeInt('quantity'),
    sold: t.exposeInt('sold'),
    held: t.exposeInt('held'),
    remaining: t.exposeInt('remaining'),
    salesStartAt: t.expose('salesStartAt', { type: 'DateTime', nullable: true }),
    salesEndAt: t.expose('salesEndAt', { type: 'DateTime', nullable: true }),
    minPerOrder: t.exposeInt('minPerOrder'),
    maxPerOrder: t.exposeInt('maxPerOrder'),
    hidden: t.exposeBoolean('hidden'),
    accessCode: t.exposeString('accessCode', { nullable: true }),
    sortOrder: t.exposeInt('sortOrder'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const CapacityPoolRef = builder.objectRef<CapacityPoolView>('CapacityPool').implement({
  description: 'Seats shared by several ticket types of an event (REST `CapacityPool`).',
  fields: (t) => ({
    id: t.exposeID('id'),
    eventId: t.exposeID('eventId'),
    name: t.exposeString('name'),
    capacity: t.exposeInt('capacity'),
    sold: t.exposeInt('sold'),
    held: t.exposeInt('held'),
    remaining: t.exposeInt('remaining'),
    ticketTypeIds: t.exposeIDList('ticketTypeIds'),
  }),
});

const AvailabilityRef = builder.objectRef<EventAvailability>('EventAvailability').implement({
  description:
    'Seats of an event over all its ticket types. `remaining` is what can still be sold: each ticket type’s ' +
    'remaining seats, capped by its capacity pool and by the event’s capacity.',
  fields: (t) => ({
    quantity: t.exposeInt('quantity'),
    sold: t.exposeInt('sold'),
    held: t.exposeInt('held'),
    remaining: t.exposeInt('remaining'),
  }),
});

export const EventRef = builder.objectRef<EventView>('Event').implement({
  description:
    'An event as staff see it (REST `Event`). Its ticket types, pools and availability come from one dataloader: ' +
    'one database round trip for all the events of a level.',
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    title: t.exposeString('title'),
    description: t.exposeString('description'),
    status: t.expose('status', { type: EventStatus }),
    visibility: t.expose('visibility', { type: EventVisibility }),
    timezone: t.exposeString('timezone'),
    startsAt: t.expose('startsAt', { type: 'DateTime' }),
    endsAt: t.expose('endsAt', { type: 'DateTime' }),
    venue: t.field({ type: VenueRef, nullable: true, resolve: (event) => event.venue }),
    onlineUrl: t.exposeString('onlineUrl', { nullable: true }),
    categories: t.exposeStringList('categories'),
    coverImageUrl: t.exposeString('coverImageUrl', { nullable: true }),
    capacity: t.exposeInt('capacity', { nullable: true }),
    transfersAllowed: t.exposeBoolean('transfersAllowed', {
      description: 'Whether ticket holders may transfer their tickets to another person.',
    }),
    transferCutoffMinutes: t.exposeInt('transferCutoffMinutes', {
      description: 'Transfers close this many minutes before the start (0: at the start).',
    }),
    seriesId: t.exposeID('seriesId', {
      nullable: true,
      description: 'The recurring series this event is a date of, or null for a one-off event.',
    }),
    publishedAt: t.expose('publishedAt', { type: 'DateTime', nullable: true }),
    cancelledAt: t.expose('cancelledAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    ticketTypes: t.field({
      type: [TicketTypeRef],
      description: 'The ticket types, in list order (REST `GET /events/{id}/ticket-types`).',
      resolve: async (event, _args, context) => (await context.loaders.inventory.load(event.id)).ticketTypes,
    }),
    capacityPools: t.field({
      type: [CapacityPoolRef],
      description: 'The capacity pools (REST `GET /events/{id}/capacity-pools`).',
      resolve: async (event, _args, context) => (await context.loaders.inventory.load(event.id)).capacityPools,
    }),
    availability: t.field({
      type: AvailabilityRef,
      resolve: async (event, _args, context) =>
        eventAvailability(event.capacity, await context.loaders.inventory.load(event.id)),
    }),
  }),
});

const EventConnection = connection('Event', EventRef, 'A page of events (REST `GET /api/v1/events`).');

builder.queryFields((t) => ({
  events: t.field({
    type: EventConnection,
    description:
      'The organization’s events with the REST list’s filters and sorts. Needs `events:read`. One database round trip.',
    args: {
      ...pageArgs(t.arg, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
      status: t.arg({ type: EventStatus }),
      visibility: t.arg({ type: EventVisibility }),
      from: t.arg({ type: 'DateTime', description: 'Only events starting at or after this instant.' }),
      to: t.arg({ type: 'DateTime', description: 'Only events starting before this instant.' }),
      q: t.arg.string({ description: 'Case-insensitive text the title contains.' }),
      sort: t.arg({ type: EventSort }),
    },
    resolve: (_root, args, context) => {
      need(context, 'events:read');
      const { first, after, ...filters } = args;
      const input = parseArgs(EventListQuerySchema, { ...given(filters), ...restPage({ first, after }) });
      return listEvents({ ctx: context.service, input });
    },
  }),
  event: t.field({
    type: EventRef,
    nullable: true,
    description: 'One event by id; null when this organization has none with that id. Needs `events:read`.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, context) => {
      need(context, 'events:read');
      return orNull(getEvent({ ctx: context.service, input: { id: uuidArg(args.id) } }));
    },
  }),
}));

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An id argument: anything but a UUID can name nothing here, and reads as an unknown id (null), never a SQL error. */
export function uuidArg(id: string | number): string {
  const text = String(id);
  return UUID.test(text) ? text.toLowerCase() : '00000000-0000-0000-0000-000000000000';
}
