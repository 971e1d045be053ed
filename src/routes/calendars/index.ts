import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as getBookingCalendar from './get-booking-calendar.ts';
import * as getEventCalendar from './get-event-calendar.ts';
import * as getOrganizationCalendar from './get-organization-calendar.ts';

/** iCalendar files: a public event, the organization's public feed, a buyer's booking (docs/API.md, "Calendars"). */
export function registerCalendarRoutes(app: OpenAPIHono<AppEnv>): void {
  getOrganizationCalendar.register(app);
  getEventCalendar.register(app);
  getBookingCalendar.register(app);
}
