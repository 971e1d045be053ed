import { assertLiveKey } from '../../middleware/auth.ts';
import { checkIn } from '../../services/bookings/check-in.ts';
import { cancelBooking, confirmBooking } from '../../services/bookings/transitions.ts';
import { cancelEvent, publishEvent } from '../../services/events/lifecycle.ts';
import { createTicketType, updateTicketType } from '../../services/events/ticket-types.ts';
import { createEvent, updateEvent } from '../../services/events/write.ts';
import { Uuid } from '../fields.ts';
import { CheckInRequestSchema } from '../check-ins/schema.ts';
import { EventCreateSchema, EventUpdateSchema } from '../events/schema.ts';
import { TicketTypeCreateSchema, TicketTypeUpdateSchema } from '../ticket-types/schema.ts';
import { BookingRef } from './bookings.ts';
import { builder, need, parseArgs } from './builder.ts';
import { EventRef, EventVisibility, TicketTypeRef } from './events.ts';

/** A mutation's id argument: a UUID, else the REST route's 400 (`validation_failed` at `/args/id`). */
function idArg(id: string | number): string {
  return parseArgs(Uuid, String(id));
}

const VenueInput = builder.inputType('VenueInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    address: t.string(),
    city: t.string(),
    country: t.string({ description: 'ISO 3166-1 alpha-2.' }),
    latitude: t.float(),
    longitude: t.float(),
  }),
});

/** The event fields both inputs share; which are required is the REST schema's business (it checks every input). */
const eventFields = (t: Parameters<Parameters<typeof builder.inputType>[1]['fields']>[0]) => ({
  slug: t.string(),
  description: t.string(),
  visibility: t.field({ type: EventVisibility }),
  venue: t.field({ type: VenueInput, description: 'null: an online-only event.' }),
  onlineUrl: t.string(),
  categories: t.stringList(),
  coverImageUrl: t.string(),
  capacity: t.int({ description: 'null: only the ticket types limit sales.' }),
  transfersAllowed: t.boolean({ description: 'Ticket transfers allowed (default true).' }),
  transferCutoffMinutes: t.int({ description: 'Transfers close this many minutes before the start, 0..43200.' }),
});

const CreateEventInput = builder.inputType('CreateEventInput', {
  description: 'A new event, created as a draft (REST `EventCreate`: the same rules).',
  fields: (t) => ({
    ...eventFields(t),
    title: t.string({ required: true }),
    timezone: t.string({ required: true }),
    startsAt: t.field({ type: 'DateTime', required: true }),
    endsAt: t.field({ type: 'DateTime', required: true }),
  }),
});

const UpdateEventInput = builder.inputType('UpdateEventInput', {
  description: 'The fields to change (REST `EventUpdate`); an explicit null clears a nullable field.',
  fields: (t) => ({
    ...eventFields(t),
    title: t.string(),
    timezone: t.string(),
    startsAt: t.field({ type: 'DateTime' }),
    endsAt: t.field({ type: 'DateTime' }),
  }),
});

const ticketTypeFields = (t: Parameters<Parameters<typeof builder.inputType>[1]['fields']>[0]) => ({
  description: t.string(),
  salesStartAt: t.field({ type: 'DateTime' }),
  salesEndAt: t.field({ type: 'DateTime' }),
  minPerOrder: t.int(),
  maxPerOrder: t.int(),
  hidden: t.boolean(),
  accessCode: t.string(),
  sortOrder: t.int(),
});

const CreateTicketTypeInput = builder.inputType('CreateTicketTypeInput', {
  description: 'A new ticket type (REST `TicketTypeCreate`).',
  fields: (t) => ({
    ...ticketTypeFields(t),
    name: t.string({ required: true }),
    price: t.int({ required: true, description: 'Minor units.' }),
    currency: t.string({ required: true }),
    quantity: t.int({ required: true }),
  }),
});

const UpdateTicketTypeInput = builder.inputType('UpdateTicketTypeInput', {
  description: 'The fields to change (REST `TicketTypeUpdate`).',
  fields: (t) => ({
    ...ticketTypeFields(t),
    name: t.string(),
    price: t.int(),
    currency: t.string(),
    quantity: t.int(),
  }),
});

interface CheckInOutcome {
  attendee: {
    id: string;
    bookingId: string;
    eventId: string;
    ticketTypeId: string;
    ticketTypeName: string;
    name: string;
  };
  checkedInAt: string;
  alreadyCheckedIn: boolean;
}

const CheckedInTicketRef = builder.objectRef<CheckInOutcome['attendee']>('CheckedInTicket').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    bookingId: t.exposeID('bookingId'),
    eventId: t.exposeID('eventId'),
    ticketTypeId: t.exposeID('ticketTypeId'),
    ticketTypeName: t.exposeString('ticketTypeName'),
    name: t.exposeString('name'),
  }),
});

const CheckInResultRef = builder.objectRef<CheckInOutcome>('CheckInResult').implement({
  description: 'A scanned ticket (REST `CheckInResult`).',
  fields: (t) => ({
    attendee: t.field({ type: CheckedInTicketRef, resolve: (result) => result.attendee }),
    checkedInAt: t.expose('checkedInAt', { type: 'DateTime' }),
    alreadyCheckedIn: t.exposeBoolean('alreadyCheckedIn'),
  }),
});

builder.mutationFields((t) => ({
  createEvent: t.field({
    type: EventRef,
    description: 'REST `POST /api/v1/events`. Needs `events:write`. Accepts `Idempotency-Key`.',
    args: { input: t.arg({ type: CreateEventInput, required: true }) },
    resolve: (_root, args, context) => {
      need(context, 'events:write');
      return createEvent({ ctx: context.service, input: parseArgs(EventCreateSchema, args.input) });
    },
  }),
  updateEvent: t.field({
    type: EventRef,
    description: 'REST `PUT /api/v1/events/{id}`. Needs `events:write`.',
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateEventInput, required: true }) },
    resolve: (_root, args, context) => {
      need(context, 'events:write');
      const input = { ...parseArgs(EventUpdateSchema, args.input), id: idArg(args.id) };
      return updateEvent({ ctx: context.service, input });
    },
  }),
  publishEvent: t.field({
    type: EventRef,
    description: 'REST `POST /api/v1/events/{id}/publish`. Needs `events:write`.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, context) => {
      need(context, 'events:write');
      return publishEvent({ ctx: context.service, input: { id: idArg(args.id) } });
    },
  }),
  cancelEvent: t.field({
    type: EventRef,
    description: 'REST `POST /api/v1/events/{id}/cancel`. Needs `events:write`.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, context) => {
      need(context, 'events:write');
      return cancelEvent({ ctx: context.service, input: { id: idArg(args.id) } });
    },
  }),
  createTicketType: t.field({
    type: TicketTypeRef,
    description: 'REST `POST /api/v1/events/{id}/ticket-types`. Needs `events:write`. Accepts `Idempotency-Key`.',
    args: { eventId: t.arg.id({ required: true }), input: t.arg({ type: CreateTicketTypeInput, required: true }) },
    resolve: (_root, args, context) => {
      need(context, 'events:write');
      const input = { ...parseArgs(TicketTypeCreateSchema, args.input), eventId: idArg(args.eventId) };
      return createTicketType({ ctx: context.service, input });
    },
  }),
  updateTicketType: t.field({
    type: TicketTypeRef,
    description: 'REST `PUT /api/v1/ticket-types/{id}`. Needs `events:write`.',
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateTicketTypeInput, required: true }) },
    resolve: (_root, args, context) => {
      need(context, 'events:write');
      const input = { ...parseArgs(TicketTypeUpdateSchema, args.input), id: idArg(args.id) };
      return updateTicketType({ ctx: context.service, input });
    },
  }),
  cancelBooking: t.field({
    type: BookingRef,
    description:
      'REST `POST /api/v1/bookings/{id}/cancel`. Needs `bookings:write`; a test API key is refused (`live_key_required`).',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, context) => {
      need(context, 'bookings:write');
      assertLiveKey(context.principal);
      return cancelBooking({ ctx: context.service, input: { id: idArg(args.id) } });
    },
  }),
  confirmBooking: t.field({
    type: BookingRef,
    description:
      'REST `POST /api/v1/bookings/{id}/confirm` (a manual payment received). Needs `bookings:write`; a test API key is refused (`live_key_required`).',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, context) => {
      need(context, 'bookings:write');
      assertLiveKey(context.principal);
      return confirmBooking({ ctx: context.service, input: { id: idArg(args.id) } });
    },
  }),
  checkIn: t.field({
    type: CheckInResultRef,
    description: 'REST `POST /api/v1/check-ins`. Needs `checkins:write`.',
    args: { ticketCode: t.arg.string({ required: true }), eventId: t.arg.id() },
    resolve: (_root, args, context) => {
      need(context, 'checkins:write');
      const input = parseArgs(CheckInRequestSchema, {
        ticketCode: args.ticketCode,
        ...(args.eventId === null || args.eventId === undefined ? {} : { eventId: args.eventId }),
      });
      return checkIn({ ctx: context.service, input });
    },
  }),
}));
