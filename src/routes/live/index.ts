import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as bookings from './bookings.ts';
import * as checkIns from './check-ins.ts';
import * as publicAvailability from './public-availability.ts';

/** The live streams (Server-Sent Events fed by each event's Durable Object; src/services/realtime/). */
export function registerLiveRoutes(app: OpenAPIHono<AppEnv>): void {
  publicAvailability.register(app);
  checkIns.register(app);
  bookings.register(app);
}
