import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as exportRoute from './export.ts';
import * as list from './list.ts';

// The staff's attendee (door) list of an event, and its export.
export function registerAttendeesRoutes(app: OpenAPIHono<AppEnv>): void {
  list.register(app);
  exportRoute.register(app);
}
