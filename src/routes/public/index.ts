import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as cancelBooking from './cancel-booking.ts';
import * as checkout from './checkout.ts';
import * as createBooking from './create-booking.ts';
import * as getBooking from './get-booking.ts';
import * as getEvent from './get-event.ts';
import * as listEvents from './list-events.ts';
import * as quote from './quote.ts';
import * as transferTicket from './transfer-ticket.ts';
import * as updateAttendee from './update-attendee.ts';

export function registerPublicRoutes(app: OpenAPIHono<AppEnv>): void {
  listEvents.register(app);
  getEvent.register(app);
  createBooking.register(app);
  quote.register(app);
  checkout.register(app);
  getBooking.register(app);
  transferTicket.register(app);
  cancelBooking.register(app);
  updateAttendee.register(app);
}
